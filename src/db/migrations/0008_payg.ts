import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * Pay-as-you-go: products, the instruments that pay for them (coupons, stored-value cards, a
 * cloud-marketplace balance; each a ledger account), and daily settlement. A (tenant, day) is
 * settled once: its marker row's key refuses a second settlement.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table payg_products (
       billing_key text primary key check (billing_key ~ '^[a-z][a-z0-9_]{0,63}$'),
       display_name text not null check (length(display_name) between 1 and 200),
       unit_price numeric not null check (unit_price >= 0),
       billing_cycle text not null check (billing_cycle in ('Day', 'Month', 'Year', 'Single')),
       category text not null check (category in ('subscription', 'pay-as-you-go')),
       status text not null check (status in ('active', 'archived')),
       created_at timestamptz not null,
       updated_at timestamptz not null
     )`,

    `create table payg_instruments (
       tenant_id text not null references tenants (id),
       id text not null check (id ~ '^(cpn|svc|cmk)_[a-z0-9]{16}$'),
       kind text not null check (kind in ('coupon', 'stored_card', 'cloud_marketplace')),
       account_id text not null,
       issued_amount bigint not null check (issued_amount >= 0),
       valid_from timestamptz,
       valid_to timestamptz,
       -- Coupons only: the billing keys they pay for; null = every product.
       product_keys text[],
       customer_identifier text,
       created_at timestamptz not null,
       primary key (tenant_id, id),
       foreign key (tenant_id, account_id) references ledger_accounts (tenant_id, id),
       check (kind = 'coupon' or product_keys is null),
       check (valid_to is null or valid_from is null or valid_to > valid_from)
     )`,
    // One cloud-marketplace balance per tenant.
    `create unique index payg_instruments_one_marketplace on payg_instruments (tenant_id) where kind = 'cloud_marketplace'`,

    `create table payg_settlements (
       tenant_id text not null references tenants (id),
       settled_day date not null,
       lines integer not null,
       record_id text,
       settled_at timestamptz not null,
       primary key (tenant_id, settled_day),
       foreign key (tenant_id, record_id) references billing_records (tenant_id, id)
     )`,
    ...insertOnly('payg_settlements'),

    `create table payg_settlement_lines (
       tenant_id text not null,
       settled_day date not null,
       app_id text not null,
       billing_key text not null references payg_products (billing_key),
       consumption bigint not null check (consumption > 0),
       unit_price numeric not null,
       origin_amount numeric not null,
       billing_result bigint not null check (billing_result >= 0),
       coupon_amount bigint not null check (coupon_amount >= 0),
       stored_card_amount bigint not null check (stored_card_amount >= 0),
       cash_amount bigint not null check (cash_amount >= 0),
       cloud_marketplace_amount bigint not null check (cloud_marketplace_amount >= 0),
       owe_amount bigint not null check (owe_amount >= 0),
       currency char(3) not null,
       settled_at timestamptz not null,
       primary key (tenant_id, settled_day, app_id, billing_key),
       foreign key (tenant_id, settled_day) references payg_settlements (tenant_id, settled_day),
       foreign key (tenant_id, app_id) references apps (tenant_id, id),
       check (coupon_amount + stored_card_amount + cash_amount + cloud_marketplace_amount + owe_amount = billing_result)
     )`,
    ...insertOnly('payg_settlement_lines'),

    // What each instrument paid of each line, in deduction order.
    `create table payg_deductions (
       tenant_id text not null,
       settled_day date not null,
       app_id text not null,
       billing_key text not null,
       seq integer not null,
       instrument_id text not null,
       amount bigint not null check (amount > 0),
       transaction_id text not null,
       primary key (tenant_id, settled_day, app_id, billing_key, seq),
       foreign key (tenant_id, settled_day, app_id, billing_key)
         references payg_settlement_lines (tenant_id, settled_day, app_id, billing_key),
       foreign key (tenant_id, transaction_id) references ledger_transactions (tenant_id, id)
     )`,
    ...insertOnly('payg_deductions'),
  ]);
