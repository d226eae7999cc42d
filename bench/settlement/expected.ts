import { yearIn } from '../../src/core/calendar.js';
import { formatInvoiceNumber } from '../../src/core/invoice-math.js';
import { planDeductions, usableInOrder, type PayingInstrument } from '../../src/core/payg-deduction.js';
import { buildSearchText } from '../../src/modules/billing-records/search-text.js';
import { productByKey, settledDay } from './config.js';
import { nextId, originOf, payableOf, type BenchTenant, type Consumption } from './workload.js';

// What settlement must write, computed from the spec (docs/payg.md) with the same core functions

export type PaidKind = 'coupon' | 'stored_card' | 'cash' | 'cloud_marketplace';

export interface ExpectedDeduction {
  instrumentId: string;
  amount: bigint;
  /** The baseline's ledger transaction (settlePayg makes its own ids). */
  transactionId: string;
}

export interface ExpectedLine extends Consumption {
  unitPrice: string;
  displayName: string;
  origin: string;
  payable: bigint;
  paid: Record<PaidKind, bigint>;
  owed: bigint;
  deductions: ExpectedDeduction[];
}

export interface ExpectedDay {
  tenant: BenchTenant;
  lines: ExpectedLine[];
  record: { id: string; invoiceNumber: string; description: string; searchText: string; owed: bigint } | null;
}

export const expectedDay = (tenant: BenchTenant): ExpectedDay => {
  const instruments: PayingInstrument[] = [
    ...tenant.instruments.map((i) => ({
      id: i.id,
      kind: i.kind,
      balance: i.amount,
      validFrom: i.validFrom,
      validTo: i.validTo,
      productKeys: i.productKeys,
    })),
    { id: 'cash', kind: 'cash', balance: tenant.cash, validFrom: null, validTo: null, productKeys: null },
  ];
  const lines = tenant.consumption.map((item): ExpectedLine => {
    const product = productByKey.get(item.billingKey)!;
    const payable = payableOf(item.quantity, product.unitPrice, tenant.currency);
    const plan = planDeductions(payable, usableInOrder(instruments, item.billingKey, tenant.dayStart, tenant.dayEnd));
    const paid: Record<PaidKind, bigint> = { coupon: 0n, stored_card: 0n, cash: 0n, cloud_marketplace: 0n };
    for (const allocation of plan.allocations) {
      paid[allocation.kind] += allocation.amount;
      instruments.find((candidate) => candidate.id === allocation.instrumentId)!.balance -= allocation.amount;
    }
    return {
      ...item,
      unitPrice: product.unitPrice,
      displayName: product.displayName,
      origin: originOf(item.quantity, product.unitPrice).toFixed(),
      payable,
      paid,
      owed: plan.owed,
      deductions: plan.allocations.map((a) => ({
        instrumentId: a.instrumentId,
        amount: a.amount,
        transactionId: nextId('ctr'),
      })),
    };
  });
  const owedLines = lines.filter((line) => line.owed > 0n);
  let record: ExpectedDay['record'] = null;
  if (owedLines.length > 0) {
    const id = nextId('rec');
    const description = `Pay-as-you-go ${settledDay}, owed after deductions`;
    const invoiceNumber = formatInvoiceNumber(yearIn(tenant.dayEnd, tenant.timeZone), 1);
    record = {
      id,
      invoiceNumber,
      description,
      searchText: buildSearchText([
        invoiceNumber,
        buildSearchText([id, description, ...owedLines.map((line) => lineDescription(line))]),
      ]),
      owed: owedLines.reduce((sum, line) => sum + line.owed, 0n),
    };
  }
  return { tenant, lines, record };
};

export const lineDescription = (line: ExpectedLine): string => `${line.displayName} on ${settledDay} (${line.appId})`;
