import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxMinorAmount, parseMajorAmount, toMajorNumber } from './money.js';

describe('money', () => {
  it.each([
    [99, 'CNY', 9900n],
    [5.94, 'CNY', 594n],
    [0.29, 'CNY', 29n],
    [500, 'JPY', 500n],
    [1.234, 'BHD', 1234n],
    [0, 'USD', 0n],
  ])('reads %d %s as %d minor units', (major, currency, minor) => {
    expect(parseMajorAmount(major, currency)).toEqual({ ok: true, minor });
    expect(toMajorNumber(minor, currency)).toBe(major);
  });

  it.each([
    [0.001, 'CNY', 'too_precise'],
    [0.5, 'JPY', 'too_precise'],
    [-1, 'CNY', 'negative'],
    [Number.NaN, 'CNY', 'not_finite'],
    [Number.POSITIVE_INFINITY, 'CNY', 'not_finite'],
    [1e13, 'CNY', 'too_large'],
  ])('refuses %d %s as %s', (major, currency, problem) => {
    expect(parseMajorAmount(major, currency)).toEqual({ ok: false, problem });
  });

  it('round-trips every accepted amount exactly through a JSON number', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: maxMinorAmount }),
        fc.constantFrom('CNY', 'JPY', 'BHD'),
        (minor, currency) => {
          const major = JSON.parse(JSON.stringify(toMajorNumber(minor, currency))) as number;
          expect(parseMajorAmount(major, currency)).toEqual({ ok: true, minor });
        },
      ),
    );
  });
});
