import { minorUnitsOf } from '../../core/currency.js';
import { toMajorText } from '../../core/money.js';

import type { Locale } from '../../core/locales.js';

export type DocumentLocale = Locale;

/** Intl formatters are costly to build (a document uses a few dozen times each): one per setting. */
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
const cached = <F extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, build: () => F): F => {
  let format = formatters.get(key) as F | undefined;
  if (format === undefined) {
    format = build();
    formatters.set(key, format);
  }
  return format;
};

/** A currency amount with `min`–`max` decimals. */
const currencyFormat = (locale: DocumentLocale, currency: string, min: number, max: number) =>
  cached(
    `money/${locale}/${currency}/${min}/${max}`,
    () =>
      new Intl.NumberFormat(locale, {
        style: 'currency',
        currency,
        minimumFractionDigits: min,
        maximumFractionDigits: max,
      }),
  );

/*
 * Intl formats a decimal string exactly (no float on the way), so amounts keep every minor unit
 * however large; the currency's own exponent fixes the decimals (JPY 0, CNY 2, KWD 3).
 */
/** `¥1,234.56`, `JP¥1,235`, `US$0.50` (zh-CN) or `CN¥1,234.56`, `¥1,235`, `$0.50` (en). */
export const formatMoney = (minor: bigint, currency: string, locale: DocumentLocale): string => {
  const digits = minorUnitsOf(currency);
  return currencyFormat(locale, currency, digits, digits).format(toMajorText(minor, currency) as `${number}`);
};

/** A count or a decimal text with its digits kept and thousands grouped: `1,234,567`, `0.0001`. */
export const formatNumber = (value: bigint | string, locale: DocumentLocale): string =>
  cached(`number/${locale}`, () => new Intl.NumberFormat(locale, { maximumFractionDigits: 20 })).format(
    String(value) as `${number}`,
  );

/**
 * A unit price (a decimal text) in the currency's style, with at least the currency's decimals and
 * all of its own: `¥0.0015`, `¥99.00`.
 */
export const formatUnitPrice = (price: string, currency: string, locale: DocumentLocale): string => {
  const digits = minorUnitsOf(currency);
  const own = price.includes('.') ? price.length - price.indexOf('.') - 1 : 0;
  return currencyFormat(locale, currency, digits, Math.max(digits, own)).format(price as `${number}`);
};

/** A tax rate (decimal text, 0.06) as a percentage: `6%`, `13.5%`. */
export const formatRate = (rate: string, locale: DocumentLocale): string =>
  cached(`rate/${locale}`, () => new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 4 })).format(
    rate as `${number}`,
  );

/** A calendar day in the tenant's time zone: `2026年4月1日` / `Apr 1, 2026`. */
export const formatDay = (instant: Date, timeZone: string, locale: DocumentLocale): string =>
  cached(`day/${locale}/${timeZone}`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone })).format(
    instant,
  );
