/*
 * Money as tests work it out by hand, apart from the code under test: integer arithmetic on minor
 * units (fen), so an expected figure never inherits a float or a rounding of the code's own.
 */

/** Half-up division of non-negative integers: floor((2n + d) / 2d). */
export const halfUp = (numerator: bigint, denominator: bigint): bigint =>
  (2n * numerator + denominator) / (2n * denominator);

/** Tax at 6 % on a line of `minor` units, rounded half-up to the minor unit. */
export const sixPercentTax = (minor: bigint): bigint => halfUp(minor * 6n, 100n);

/**
 * Minor units (fen) as the API's major-unit JSON number: the one step that leaves integers, because
 * the API's JSON is a number (the nearest double to the exact decimal, as `JSON.parse` reads it).
 */
export const cny = (minor: bigint): number => Number(minor) / 100;
