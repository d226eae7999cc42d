export interface ProrationWindow {
  periodStart: Date;
  periodEnd: Date;
  /** When the change takes effect, inside the period. */
  at: Date;
}

/** Whole seconds of the period left after the change, and the period's length in seconds. */
export const remainingSeconds = ({ periodStart, periodEnd, at }: ProrationWindow): { left: bigint; of: bigint } => {
  // Checked on the instants: rounding to seconds first would let a change just before the start through.
  if (at < periodStart || at > periodEnd) throw new RangeError('the change must fall inside the period');
  const of = BigInt(Math.floor((periodEnd.getTime() - periodStart.getTime()) / 1000));
  const left = BigInt(Math.floor((periodEnd.getTime() - at.getTime()) / 1000));
  if (of <= 0n || left < 0n || left > of) throw new RangeError('the change must fall inside the period');
  return { left, of };
};

/**
 * The part of a per-period price difference (minor units, ≥ 0) that falls on the rest of the
 * period, to the second, rounded half-up to the minor unit: 40 CNY × 1,296,000 s / 2,678,400 s.
 */
export const prorate = (difference: bigint, window: ProrationWindow): bigint => {
  if (difference < 0n) throw new RangeError('prorate a non-negative difference');
  const { left, of } = remainingSeconds(window);
  // Half-up in exact integers: floor((2·d·left + of) / (2·of)).
  return (2n * difference * left + of) / (2n * of);
};
