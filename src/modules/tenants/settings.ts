import { isSupportedCurrency } from '../../core/currency.js';
import { isValidRate, maxRateDecimals } from '../../core/decimal.js';
import { invalidParameter } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import { canonicalTimeZone } from '../../core/time-zone.js';

export const tenantDefaults = {
  currency: 'CNY',
  time_zone: 'Asia/Shanghai',
  tax_rate: 0.06,
  payment_terms_days: 0,
} as const;

export interface TenantSettingsInput {
  currency?: string | undefined;
  time_zone?: string | undefined;
  tax_rate?: number | undefined;
}

export interface TenantSettings {
  currency?: string;
  time_zone?: string;
  tax_rate?: string;
}

/** Checks what a schema cannot: a billable currency, a real time zone, a rate with at most 6 decimals. */
export const validateTenantSettings = (input: TenantSettingsInput): Result<TenantSettings> => {
  const settings: TenantSettings = {};
  if (input.currency !== undefined) {
    if (!isSupportedCurrency(input.currency)) {
      return fail(invalidParameter('body', 'currency', `"${input.currency}" is not a supported currency`));
    }
    settings.currency = input.currency;
  }
  if (input.time_zone !== undefined) {
    const zone = canonicalTimeZone(input.time_zone);
    if (zone === null)
      return fail(invalidParameter('body', 'time_zone', `"${input.time_zone}" is not an IANA time zone`));
    settings.time_zone = zone;
  }
  if (input.tax_rate !== undefined) {
    if (!isValidRate(input.tax_rate)) {
      return fail(invalidParameter('body', 'tax_rate', `must be in [0, 1) with at most ${maxRateDecimals} decimals`));
    }
    settings.tax_rate = String(input.tax_rate);
  }
  return ok(settings);
};
