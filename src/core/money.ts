import { Decimal } from 'decimal.js';
import { minorUnitsOf } from './currency.js';

/**
 * Largest amount in minor units the API accepts. Amounts travel as JSON numbers (doubles), which
 * hold any decimal of up to 15 significant digits exactly; above that a value might not arrive as
 * written (90071992547409.91 parses to ...409.9) nor leave as stored.
 */
export const maxMinorAmount = 10n ** 15n - 1n;

/** 10^exponent of the currency: major units × this = minor units. */
const minorScale = (currency: string): Decimal => new Decimal(10).pow(minorUnitsOf(currency));

/** An exact decimal rounded to a whole bigint; never through a float. */
export const roundToBigInt = (value: Decimal, rounding: Decimal.Rounding): bigint =>
  BigInt(value.toDecimalPlaces(0, rounding).toFixed(0));

/** A decimal amount in major units to minor units, rounded as asked: 0.015 CNY half-up → 2n. */
export const majorToMinor = (major: Decimal.Value, currency: string, rounding: Decimal.Rounding): bigint =>
  roundToBigInt(new Decimal(major).times(minorScale(currency)), rounding);

/**
 * The exact decimal a JSON number was written as. JSON.parse has already made it a double; its
 * shortest decimal form (String) is what the client sent, so reading that is exact.
 */
export const decimalOf = (value: number): Decimal => new Decimal(String(value));

export type MajorAmountProblem = 'not_finite' | 'negative' | 'too_precise' | 'too_large';

/**
 * Turns an API amount in major units (99.5 CNY) into exact minor units (9950n). Numbers arrive
 * from JSON already parsed; their shortest decimal form is what the client wrote, so it is read
 * through decimal.js and never multiplied as a float.
 */
export const parseMajorAmount = (
  value: number,
  currency: string,
): { ok: true; minor: bigint } | { ok: false; problem: MajorAmountProblem } => {
  if (!Number.isFinite(value)) return { ok: false, problem: 'not_finite' };
  if (value < 0) return { ok: false, problem: 'negative' };
  const minor = decimalOf(value).times(minorScale(currency));
  if (!minor.isInteger()) return { ok: false, problem: 'too_precise' };
  const result = roundToBigInt(minor, Decimal.ROUND_DOWN);
  if (result > maxMinorAmount) return { ok: false, problem: 'too_large' };
  return { ok: true, minor: result };
};

/** Minor units back to a JSON number in major units: 594n CNY → 5.94. */
export const toMajorNumber = (minor: bigint, currency: string): number =>
  new Decimal(minor.toString()).dividedBy(minorScale(currency)).toNumber();

/** Minor units as exact decimal text in major units, for a NUMERIC unit price: 9900n CNY → "99". */
export const toMajorText = (minor: bigint, currency: string): string =>
  new Decimal(minor.toString()).dividedBy(minorScale(currency)).toFixed();

export const describeAmountProblem = (problem: MajorAmountProblem, currency: string): string => {
  switch (problem) {
    case 'not_finite':
      return 'must be a finite number';
    case 'negative':
      return 'must not be negative';
    case 'too_precise':
      return `has more decimals than ${currency} allows (${minorUnitsOf(currency)})`;
    case 'too_large':
      return 'is too large';
  }
};
