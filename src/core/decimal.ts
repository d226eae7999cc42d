import { decimalOf } from './money.js';

/** Non-negative decimal text such as "0.0005": what NUMERIC unit prices look like on the wire. */
export const unitPricePattern = '^(0|[1-9][0-9]{0,11})(\\.[0-9]{1,10})?$';

export const maxRateDecimals = 6;

/** A rate in [0, 1) with at most six decimals, e.g. a tax rate of 0.06. */
export const isValidRate = (rate: number): boolean =>
  Number.isFinite(rate) && rate >= 0 && rate < 1 && decimalOf(rate).decimalPlaces() <= maxRateDecimals;
