/**
 * Currencies the service bills in, with their ISO 4217 minor-unit exponent. Amounts are stored as
 * bigint minor units, so the exponent is what turns 99.00 CNY into 9900 and 500 JPY into 500.
 */
// prettier-ignore
export const minorUnitsByCurrency: Readonly<Record<string, number>> = {
  AED: 2, AUD: 2, BHD: 3, BRL: 2, CAD: 2, CHF: 2, CLP: 0, CNY: 2, CZK: 2, DKK: 2, EUR: 2, GBP: 2,
  HKD: 2, HUF: 2, IDR: 2, ILS: 2, INR: 2, ISK: 0, JOD: 3, JPY: 0, KRW: 0, KWD: 3, MXN: 2, MYR: 2,
  NOK: 2, NZD: 2, OMR: 3, PHP: 2, PLN: 2, SAR: 2, SEK: 2, SGD: 2, THB: 2, TND: 3, TRY: 2, TWD: 2,
  USD: 2, VND: 0, ZAR: 2,
};

export const supportedCurrencies = Object.keys(minorUnitsByCurrency).sort();

export const isSupportedCurrency = (code: string): boolean => Object.hasOwn(minorUnitsByCurrency, code);

export const minorUnitsOf = (currency: string): number => {
  const exponent = minorUnitsByCurrency[currency];
  if (exponent === undefined) throw new RangeError(`unsupported currency ${currency}`);
  return exponent;
};
