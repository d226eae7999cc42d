import type pg from 'pg';
import { formatInvoiceNumber } from '../../src/core/invoice-math.js';
import { buildSearchText } from '../../src/modules/billing-records/search-text.js';
import { unnestInsert } from '../lib/sql.js';
import {
  currency,
  currentIndex,
  invoiceOf,
  invoiceYear,
  iso,
  methodOf,
  priceOf,
  type BenchTenant,
} from './workload.js';

/**
 * The current period's paid invoice of every subscription (record, line, history, invoice number
 * INV-2026-001 and its sequence row).
 */
export const loadInvoices = async (client: pg.Client, tenants: BenchTenant[]): Promise<void> => {
  const invoices = tenants.map((t) => invoiceOf(t, t.calendar.start, t.calendar.end));
  const firstNumber = formatInvoiceNumber(invoiceYear, 1);
  await unnestInsert({
    client,
    table: 'billing_records',
    columns: [
      ['tenant_id', 'text'],
      ['id', 'text'],
      ['type', 'text'],
      ['status', 'text'],
      ['currency', 'text'],
      ['description', 'text'],
      ['amount', 'bigint'],
      ['tax_amount', 'bigint'],
      ['total_amount', 'bigint'],
      ['invoice_number', 'text'],
      ['search_text', 'text'],
      ['created_at', 'timestamptz'],
      ['finalized_at', 'timestamptz'],
      // Due on receipt (payment terms 0), and paid.
      ['due_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    rows: tenants.map((t, i) => {
      const inv = invoices[i]!;
      const at = iso(t.calendar.start);
      return [
        t.id,
        t.recordId,
        'subscription',
        'paid',
        currency,
        inv.description,
        String(inv.amount),
        String(inv.taxAmount),
        String(inv.amount + inv.taxAmount),
        firstNumber,
        buildSearchText([firstNumber, buildSearchText([t.recordId, inv.description, inv.lineDescription])]),
        at,
        at,
        at,
        at,
      ];
    }),
  });
  await unnestInsert({
    client,
    table: 'billing_record_lines',
    columns: [
      ['tenant_id', 'text'],
      ['record_id', 'text'],
      ['line_no', 'int'],
      ['description', 'text'],
      ['resource_type', 'text'],
      ['quantity', 'bigint'],
      ['unit_price', 'numeric'],
      ['amount', 'bigint'],
      ['tax_rate', 'numeric'],
      ['tax_amount', 'bigint'],
    ],
    rows: tenants.map((t, i) => {
      const inv = invoices[i]!;
      return [
        t.id,
        t.recordId,
        1,
        inv.lineDescription,
        'subscription',
        '1',
        String(t.plan.monthly),
        String(inv.amount),
        t.taxRate,
        String(inv.taxAmount),
      ];
    }),
  });
  await unnestInsert({
    client,
    table: 'billing_record_events',
    columns: [
      ['tenant_id', 'text'],
      ['record_id', 'text'],
      ['seq', 'int'],
      ['from_status', 'text'],
      ['to_status', 'text'],
      ['actor', 'text'],
      ['reason', 'text'],
      ['occurred_at', 'timestamptz'],
    ],
    rows: tenants.flatMap((t) => {
      const at = iso(t.calendar.start);
      return [
        [t.id, t.recordId, 1, null, 'draft', 'billing-run', null, at],
        [t.id, t.recordId, 2, 'draft', 'pending', 'billing-run', null, at],
        [t.id, t.recordId, 3, 'pending', 'paid', 'billing-run', 'paid by sandbox_success', at],
      ];
    }),
  });
  await unnestInsert({
    client,
    table: 'invoice_sequences',
    columns: [
      ['tenant_id', 'text'],
      ['year', 'int'],
      ['last_seq', 'int'],
    ],
    rows: tenants.map((t) => [t.id, invoiceYear, 1]),
  });
};

/** The subscriptions, active in their 4th period and due at its end, with that period's row and their history. */
export const loadSubscriptions = async (client: pg.Client, tenants: BenchTenant[]): Promise<void> => {
  await unnestInsert({
    client,
    table: 'subscriptions',
    columns: [
      ['tenant_id', 'text'],
      ['id', 'text'],
      ['plan_id', 'text'],
      ['plan_version', 'int'],
      ['admin_user_id', 'text'],
      ['status', 'text'],
      ['billing_cycle', 'text'],
      ['amount', 'bigint'],
      ['currency', 'text'],
      ['billing_anchor', 'timestamptz'],
      ['period_index', 'int'],
      ['current_period_start', 'timestamptz'],
      ['current_period_end', 'timestamptz'],
      ['grace_period_days', 'int'],
      ['auto_renew', 'boolean'],
      ['cancel_at_period_end', 'boolean'],
      ['payment_method', 'text'],
      ['payment_attempts', 'int'],
      ['next_run_at', 'timestamptz'],
      ['created_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    rows: tenants.map((t) => [
      t.id,
      t.subscriptionId,
      t.plan.id,
      1,
      `usr_${t.id}`,
      'active',
      'monthly',
      String(priceOf(t.plan)),
      currency,
      iso(t.calendar.anchor),
      currentIndex,
      iso(t.calendar.start),
      iso(t.calendar.end),
      7,
      true,
      false,
      methodOf[t.payment],
      0,
      iso(t.calendar.end),
      iso(t.calendar.anchor),
      iso(t.calendar.start),
    ]),
  });
  await unnestInsert({
    client,
    table: 'subscription_periods',
    columns: [
      ['tenant_id', 'text'],
      ['subscription_id', 'text'],
      ['period_start', 'timestamptz'],
      ['period_end', 'timestamptz'],
      ['plan_id', 'text'],
      ['plan_version', 'int'],
      ['billing_cycle', 'text'],
      ['amount', 'bigint'],
      ['record_id', 'text'],
      ['created_at', 'timestamptz'],
    ],
    rows: tenants.map((t) => [
      t.id,
      t.subscriptionId,
      iso(t.calendar.start),
      iso(t.calendar.end),
      t.plan.id,
      1,
      'monthly',
      String(priceOf(t.plan)),
      t.recordId,
      iso(t.calendar.start),
    ]),
  });
  await unnestInsert({
    client,
    table: 'subscription_events',
    columns: [
      ['tenant_id', 'text'],
      ['subscription_id', 'text'],
      ['seq', 'int'],
      ['kind', 'text'],
      ['from_status', 'text'],
      ['to_status', 'text'],
      ['plan_id', 'text'],
      ['billing_cycle', 'text'],
      ['record_id', 'text'],
      ['actor', 'text'],
      ['occurred_at', 'timestamptz'],
    ],
    rows: tenants.map((t) => [
      t.id,
      t.subscriptionId,
      1,
      'renewed',
      'active',
      'active',
      t.plan.id,
      'monthly',
      t.recordId,
      'billing-run',
      iso(t.calendar.start),
    ]),
  });
};
