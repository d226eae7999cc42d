import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { billingProfileColumns } from './billing-profile.js';
import { findTestClockTime, insertTenant, type TenantRow } from './repository.js';
import type { CreateTenantInput } from './schemas.js';
import { tenantDefaults, validateTenantSettings } from './settings.js';

export const createTenant = async (db: Db, clock: Clock, input: CreateTenantInput): Promise<Result<TenantRow>> => {
  const settings = validateTenantSettings({
    currency: input.currency ?? tenantDefaults.currency,
    time_zone: input.time_zone ?? tenantDefaults.time_zone,
    tax_rate: input.tax_rate ?? tenantDefaults.tax_rate,
  });
  if (!settings.ok) return settings;
  let now = clock.now();
  if (input.test_clock_id !== undefined) {
    // A tenant on a test clock is born at the clock's time: its first day, period and event are there.
    const frozenTime = await findTestClockTime(db, input.test_clock_id);
    if (frozenTime === undefined) {
      return fail(
        new AppError('unprocessable', `test clock ${input.test_clock_id} not found`, [
          { in: 'body', parameter: 'test_clock_id', reason: 'no such test clock' },
        ]),
      );
    }
    now = frozenTime;
  }
  const id = input.tenant_id ?? newId('tenant');
  const row = await insertTenant(db, {
    id,
    name: input.name,
    currency: settings.value.currency ?? tenantDefaults.currency,
    time_zone: settings.value.time_zone ?? tenantDefaults.time_zone,
    tax_rate: settings.value.tax_rate ?? String(tenantDefaults.tax_rate),
    payment_terms_days: input.payment_terms_days ?? tenantDefaults.payment_terms_days,
    admin_user_id: input.admin_user_id,
    status: 'active',
    created_at: now,
    updated_at: now,
    test_clock_id: input.test_clock_id ?? null,
    ...billingProfileColumns(input.billing_profile),
    // Absent, the database gives zh-CN to a CNY tenant and en to others (migration 0017).
    ...(input.locale === undefined ? {} : { locale: input.locale }),
  });
  return row === undefined ? fail(new AppError('conflict', `tenant ${id} already exists`)) : ok(row);
};
