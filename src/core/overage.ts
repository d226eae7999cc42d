import { Decimal } from 'decimal.js';

// Enough significant digits for any whole-unit count times a 10-decimal price, never rounded.
const Exact = Decimal.clone({ precision: 60 });

export interface Overage {
  overageUnits: bigint;
  /** Exact: overage units × unit price, as decimal text in major units ("6.1725"). */
  overageAmount: string;
}

/** Usage above what the plan includes, and what it costs at the overage unit price, exactly. */
export const overageOf = (totalUsage: bigint, includedUnits: bigint, unitPrice: string): Overage => {
  const overageUnits = totalUsage > includedUnits ? totalUsage - includedUnits : 0n;
  return { overageUnits, overageAmount: new Exact(overageUnits.toString()).times(unitPrice).toFixed() };
};
