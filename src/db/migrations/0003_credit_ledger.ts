import type { Kysely } from 'kysely';
import { executeStatements, insertOnly } from '../statements.js';

/**
 * The credit ledger: per-tenant accounts (the tenant's credit balance and its counter-accounts),
 * insert-only transactions and entries. The database itself keeps the books straight: each
 * entry must extend its account's chain (version + 1, balance_after = balance + amount), every
 * transaction's entries sum to zero at commit, and a balance below zero needs an overdraft account.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `create table ledger_accounts (
       tenant_id text not null references tenants (id),
       id text not null,
       kind text not null,
       currency char(3) not null,
       allow_overdraft boolean not null,
       balance bigint not null default 0,
       version bigint not null default 0,
       created_at timestamptz not null,
       updated_at timestamptz not null,
       primary key (tenant_id, id),
       check (allow_overdraft or balance >= 0),
       check (kind <> 'tenant_credit' or balance <= 999999999999999),
       check (version >= 0)
     )`,

    `create table ledger_transactions (
       tenant_id text not null references tenants (id),
       id text not null check (id ~ '^ctr_[a-z0-9]{16}$'),
       type text not null check (type in ('credit', 'debit')),
       amount bigint not null check (amount > 0),
       source text not null,
       source_id text,
       remark text not null default '',
       created_at timestamptz not null,
       primary key (tenant_id, id)
     )`,
    `create index ledger_transactions_listing on ledger_transactions (tenant_id, created_at desc, id desc)`,
    `create index ledger_transactions_by_source on ledger_transactions (tenant_id, source, created_at desc, id desc)`,
    `create index ledger_transactions_by_source_id on ledger_transactions (tenant_id, source_id)`,

    `create table ledger_entries (
       tenant_id text not null,
       account_id text not null,
       account_version bigint not null check (account_version >= 1),
       transaction_id text not null,
       amount bigint not null check (amount <> 0),
       balance_after bigint not null,
       created_at timestamptz not null,
       primary key (tenant_id, account_id, account_version),
       foreign key (tenant_id, account_id) references ledger_accounts (tenant_id, id),
       foreign key (tenant_id, transaction_id) references ledger_transactions (tenant_id, id)
     )`,
    `create index ledger_entries_by_transaction on ledger_entries (tenant_id, transaction_id)`,
    ...insertOnly('ledger_transactions'),
    ...insertOnly('ledger_entries'),

    // An entry must extend its account's chain; the account row caches the head of that chain.
    `create function ledger_apply_entry() returns trigger language plpgsql as $$
     declare
       account ledger_accounts%rowtype;
     begin
       select * into account from ledger_accounts
        where tenant_id = new.tenant_id and id = new.account_id for update;
       if not found then
         raise exception 'ledger account % of tenant % does not exist', new.account_id, new.tenant_id;
       end if;
       if new.account_version <> account.version + 1 or new.balance_after <> account.balance + new.amount then
         raise exception 'ledger entry breaks the chain of account %: version % after %, balance % after % + %',
           new.account_id, new.account_version, account.version, new.balance_after, account.balance, new.amount
           using errcode = 'integrity_constraint_violation';
       end if;
       update ledger_accounts
          set balance = new.balance_after, version = new.account_version, updated_at = new.created_at
        where tenant_id = new.tenant_id and id = new.account_id;
       return new;
     end $$`,
    `create trigger ledger_entries_extend_chain before insert on ledger_entries
       for each row execute function ledger_apply_entry()`,

    // Checked at commit, when all of a transaction's entries are in.
    `create function ledger_check_balanced() returns trigger language plpgsql as $$
     declare
       total numeric;
     begin
       select sum(amount) into total from ledger_entries
        where tenant_id = new.tenant_id and transaction_id = new.transaction_id;
       if total <> 0 then
         raise exception 'ledger transaction % of tenant % does not balance: its entries sum to %',
           new.transaction_id, new.tenant_id, total using errcode = 'integrity_constraint_violation';
       end if;
       return null;
     end $$`,
    `create constraint trigger ledger_entries_balanced after insert on ledger_entries
       deferrable initially deferred for each row execute function ledger_check_balanced()`,

    // A transaction without entries would balance trivially: refuse it at commit too.
    `create function ledger_check_has_entries() returns trigger language plpgsql as $$
     begin
       if not exists (select 1 from ledger_entries
                       where tenant_id = new.tenant_id and transaction_id = new.id) then
         raise exception 'ledger transaction % of tenant % has no entries', new.id, new.tenant_id
           using errcode = 'integrity_constraint_violation';
       end if;
       return null;
     end $$`,
    `create constraint trigger ledger_transactions_have_entries after insert on ledger_transactions
       deferrable initially deferred for each row execute function ledger_check_has_entries()`,

    // One posting in one round trip: both accounts exist (opened on first use), are locked in id
    // order (so concurrent postings never deadlock), the transaction and its two entries are
    // written, and the tenant account's new balance is returned. NULL, with nothing written, when the tenant account
    // would go below zero without overdraft, or above 10^15 - 1 minor units: the most a JSON
    // number carries exactly (maxMinorAmount in src/core/money.ts, written out: a migration
    // must not change when code does).
    `create function ledger_post(
       p_tenant text, p_transaction text, p_type text, p_amount bigint, p_source text, p_source_id text,
       p_remark text, p_at timestamptz, p_currency text, p_tenant_account text, p_counter_account text
     ) returns bigint language plpgsql as $$
     declare
       tenant_delta bigint := case when p_type = 'credit' then p_amount else -p_amount end;
       current_account ledger_accounts%rowtype;
     begin
       -- Accounts open on first use. The check takes no lock, and the insert runs before any lock
       -- is held: inserting while holding the cash row could wait on a posting that waits on it.
       if (select count(*) from ledger_accounts
            where tenant_id = p_tenant and id in (p_tenant_account, p_counter_account)) < 2 then
         insert into ledger_accounts (tenant_id, id, kind, currency, allow_overdraft, created_at, updated_at)
         values (p_tenant, p_tenant_account, 'tenant_credit', p_currency, false, p_at, p_at),
                (p_tenant, p_counter_account, 'counter', p_currency, true, p_at, p_at)
         on conflict (tenant_id, id) do nothing;
       end if;
       perform 1 from ledger_accounts
        where tenant_id = p_tenant and id in (p_tenant_account, p_counter_account)
        order by id for update;
       select * into current_account from ledger_accounts where tenant_id = p_tenant and id = p_tenant_account;
       if (current_account.balance + tenant_delta < 0 and not current_account.allow_overdraft)
          or current_account.balance + tenant_delta > 999999999999999 then
         return null;
       end if;
       insert into ledger_transactions (tenant_id, id, type, amount, source, source_id, remark, created_at)
       values (p_tenant, p_transaction, p_type, p_amount, p_source, p_source_id, p_remark, p_at);
       insert into ledger_entries (tenant_id, account_id, account_version, transaction_id, amount, balance_after, created_at)
       select p_tenant, a.id, a.version + 1, p_transaction, d.delta, a.balance + d.delta, p_at
         from ledger_accounts a
         join (values (p_tenant_account, tenant_delta), (p_counter_account, -tenant_delta)) d (account_id, delta)
           on d.account_id = a.id
        where a.tenant_id = p_tenant
        order by a.id;
       return current_account.balance + tenant_delta;
     end $$`,

    `alter table billing_records add column amount_paid bigint not null default 0`,
    `alter table billing_records add constraint billing_records_amount_paid_range
       check (amount_paid >= 0 and amount_paid <= total_amount)`,
  ]);
