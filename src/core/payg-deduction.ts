/** Where a pay-as-you-go charge is taken from, in this order. */
export const instrumentOrder = ['coupon', 'stored_card', 'cash', 'cloud_marketplace'] as const;
export type PayingInstrumentKind = (typeof instrumentOrder)[number];

export interface PayingInstrument {
  id: string;
  kind: PayingInstrumentKind;
  /** Minor units available now. */
  balance: bigint;
  validFrom: Date | null;
  validTo: Date | null;
  /** Coupons: the billing keys they pay for; null: every product. */
  productKeys: string[] | null;
}

export interface Allocation {
  instrumentId: string;
  kind: PayingInstrumentKind;
  amount: bigint;
}

/**
 * The instruments that may pay a product's consumption of one day, in deduction order: coupons
 * covering the product, soonest expiry first; stored-value cards, soonest expiry first; cash;
 * the cloud-marketplace balance. An instrument may pay a day its validity overlaps.
 */
export const usableInOrder = (
  instruments: PayingInstrument[],
  billingKey: string,
  dayStart: Date,
  dayEnd: Date,
): PayingInstrument[] =>
  instruments
    .filter(
      (instrument) =>
        instrument.balance > 0n &&
        (instrument.validFrom === null || instrument.validFrom < dayEnd) &&
        (instrument.validTo === null || instrument.validTo > dayStart) &&
        (instrument.productKeys === null || instrument.productKeys.includes(billingKey)),
    )
    .sort((a, b) => {
      const byKind = instrumentOrder.indexOf(a.kind) - instrumentOrder.indexOf(b.kind);
      if (byKind !== 0) return byKind;
      const aExpiry = a.validTo?.getTime() ?? Number.POSITIVE_INFINITY;
      const bExpiry = b.validTo?.getTime() ?? Number.POSITIVE_INFINITY;
      if (aExpiry !== bExpiry) return aExpiry - bExpiry;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });

/** Takes `payable` from the instruments in the order given, each as far as its balance goes; the rest is owed. */
export const planDeductions = (
  payable: bigint,
  ordered: PayingInstrument[],
): { allocations: Allocation[]; owed: bigint } => {
  const allocations: Allocation[] = [];
  let remaining = payable;
  for (const instrument of ordered) {
    if (remaining === 0n) break;
    const amount = instrument.balance < remaining ? instrument.balance : remaining;
    if (amount <= 0n) continue;
    allocations.push({ instrumentId: instrument.id, kind: instrument.kind, amount });
    remaining -= amount;
  }
  return { allocations, owed: remaining };
};
