import { Temporal } from 'temporal-polyfill';
import { calendarDateIn, periodBoundary } from '../../src/core/billing-calendar.js';
import { priceLine } from '../../src/core/invoice-math.js';
import { resourceAggregation } from '../../src/core/resources.js';
import { between, logUniform, seededRandom } from '../lib/random.js';
import { seed } from './config.js';

/**
 * The subscriptions billed, seeded: one tenant each, two metered plans, a payment mix, period ends
 * spread over 20 hours, three days of metered usage; and what the run must invoice for them.
 */

export type MeteredResource = 'api_requests' | 'storage_used' | 'user_count';
export const meteredResources: MeteredResource[] = ['api_requests', 'storage_used', 'user_count'];

export interface BenchPlan {
  id: string;
  name: string;
  /** Major units per month. */
  monthly: number;
  resources: { resource_type: MeteredResource; included_units: number; overage_unit_price: string }[];
}

export const plans: BenchPlan[] = [
  {
    id: 'bench-basic',
    name: 'Bench Basic',
    monthly: 49,
    resources: [
      { resource_type: 'api_requests', included_units: 50_000, overage_unit_price: '0.0005' },
      { resource_type: 'storage_used', included_units: 5_000_000_000, overage_unit_price: '0.000000002' },
      { resource_type: 'user_count', included_units: 20, overage_unit_price: '1.5' },
    ],
  },
  {
    id: 'bench-pro',
    name: 'Bench Pro',
    monthly: 99,
    resources: [
      { resource_type: 'api_requests', included_units: 100_000, overage_unit_price: '0.0004' },
      { resource_type: 'storage_used', included_units: 20_000_000_000, overage_unit_price: '0.000000001' },
      { resource_type: 'user_count', included_units: 40, overage_unit_price: '1' },
    ],
  },
];
export const currency = 'CNY';
const minorPerMajor = 100n;

export type Payment = 'balance_full' | 'balance_part' | 'sandbox' | 'manual_unpaid';
/** Per 20 tenants: 6 pay from a balance that covers all, 2 from a small one plus the card, 10 by card, 2 never. */
const paymentOf = (index: number): Payment => {
  const slot = index % 20;
  return slot < 6 ? 'balance_full' : slot < 8 ? 'balance_part' : slot < 18 ? 'sandbox' : 'manual_unpaid';
};
export const balanceOf: Record<Payment, bigint> = {
  balance_full: 50_000n,
  balance_part: 3_000n,
  sandbox: 0n,
  manual_unpaid: 0n,
};
export const methodOf: Record<Payment, 'manual' | 'sandbox_success'> = {
  balance_full: 'manual',
  balance_part: 'sandbox_success',
  sandbox: 'sandbox_success',
  manual_unpaid: 'manual',
};

const timeZones = ['Asia/Shanghai', 'Asia/Shanghai', 'Asia/Shanghai', 'UTC', 'America/New_York', 'Europe/Berlin'];
const taxRates = ['0.06', '0.06', '0.09'];
/** Subscribed in November 2025: the current period (index 3) is mid-February to mid-March 2026. */
export const anchorBase = Date.parse('2025-11-15T00:00:00Z');
export const currentIndex = 3;
/** Period ends spread over 20 hours: a first payment retry (1 day after) never falls in the renewal run. */
const anchorSpreadMinutes = 20 * 60;
export const minuteMs = 60_000;
export const dayMs = 24 * 60 * minuteMs;
export const invoiceYear = 2026;

export interface Calendar {
  anchor: Date;
  start: Date;
  end: Date;
  nextEnd: Date;
  /** The tenant-zone dates the seeded rollups fall on, inside the period. */
  usageDates: string[];
}

const calendars = new Map<string, Calendar>();
/** Period boundaries per (zone, anchor minute), computed once: the Temporal polyfill is slow. */
const calendarOf = (timeZone: string, minute: number): Calendar => {
  const key = `${timeZone}|${minute}`;
  let calendar = calendars.get(key);
  if (calendar === undefined) {
    const anchor = new Date(anchorBase + minute * minuteMs);
    const start = periodBoundary(anchor, 'monthly', currentIndex, timeZone);
    const from = Temporal.PlainDate.from(calendarDateIn(start, timeZone));
    calendar = {
      anchor,
      start,
      end: periodBoundary(anchor, 'monthly', currentIndex + 1, timeZone),
      nextEnd: periodBoundary(anchor, 'monthly', currentIndex + 2, timeZone),
      usageDates: [1, 9, 17].map((days) => from.add({ days }).toString()),
    };
    calendars.set(key, calendar);
  }
  return calendar;
};

export interface BenchTenant {
  index: number;
  id: string;
  appId: string;
  subscriptionId: string;
  recordId: string;
  timeZone: string;
  taxRate: string;
  plan: BenchPlan;
  payment: Payment;
  calendar: Calendar;
  /** resource → per seeded day. */
  usage: Record<MeteredResource, number[]>;
}

export const base36 = (n: number, width: number): string => n.toString(36).padStart(width, '0');

export const generateTenants = (count: number): BenchTenant[] => {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, index) => {
    const timeZone = timeZones[index % timeZones.length]!;
    const minute = Math.floor(random() * anchorSpreadMinutes);
    return {
      index,
      id: `tnt_bench_${base36(index, 6)}`,
      appId: `app_bench_${base36(index, 6)}`,
      subscriptionId: `sub_b${base36(index, 15)}`,
      recordId: `rec_a${base36(index, 15)}`,
      timeZone,
      taxRate: taxRates[index % taxRates.length]!,
      plan: plans[index % 3 === 0 ? 1 : 0]!,
      payment: paymentOf(index),
      calendar: calendarOf(timeZone, minute),
      usage: {
        api_requests: [0, 1, 2].map(() => between(random, 5_000, 40_000)),
        storage_used: [0, 1, 2].map(() => logUniform(random, 100_000_000, 20_000_000_000)),
        user_count: [0, 1, 2].map(() => between(random, 1, 30)),
      },
    };
  });
};

export const priceOf = (plan: BenchPlan): bigint => BigInt(plan.monthly) * minorPerMajor;
const describePlan = (plan: BenchPlan): string => `${plan.name} Monthly Subscription`;

/** What the close must invoice for a tenant: lines with overage, and whether the invoice is worth a minor unit. */
export const expectedOverage = (tenant: BenchTenant) => {
  const lines = tenant.plan.resources.flatMap((resource) => {
    const days = tenant.usage[resource.resource_type];
    const total = BigInt(
      resourceAggregation[resource.resource_type] === 'sum' ? days.reduce((sum, x) => sum + x, 0) : Math.max(...days),
    );
    const included = BigInt(resource.included_units);
    const over = total > included ? total - included : 0n;
    if (over === 0n) return [];
    const priced = priceLine(
      { quantity: over, unitPrice: resource.overage_unit_price, taxRate: tenant.taxRate },
      currency,
    );
    return [
      { ...priced, resourceType: resource.resource_type, quantity: over, unitPrice: resource.overage_unit_price },
    ];
  });
  const owed = lines.some((line) => line.amount > 0n);
  return {
    owed,
    priced: owed ? lines : [],
    lines: owed ? lines.length : 0,
    total: owed ? lines.reduce((s, l) => s + l.amount + l.taxAmount, 0n) : 0n,
  };
};

export const iso = (date: Date): string => date.toISOString();

/** A subscription invoice of the tenant's plan for the period from `start` to `end`, priced as the run prices it. */
export const invoiceOf = (tenant: BenchTenant, start: Date, end: Date) => {
  const description = describePlan(tenant.plan);
  const line = priceLine({ quantity: 1n, unitPrice: String(tenant.plan.monthly), taxRate: tenant.taxRate }, currency);
  return {
    description,
    lineDescription: `${description}, ${calendarDateIn(start, tenant.timeZone)} to ${calendarDateIn(end, tenant.timeZone)}`,
    amount: line.amount,
    taxAmount: line.taxAmount,
  };
};
