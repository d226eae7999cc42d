import type { Kysely } from 'kysely';
import { executeStatements } from '../statements.js';

/**
 * A statement lists a tenant account's postings in the order they happened: the order of that
 * account's chain (its entries' versions), which postings take under the account's lock. The time
 * a posting is dated by is taken before that lock, so it cannot order them. Each transaction now
 * records its tenant-side account (the credit balance `cash` or an instrument's) and the version
 * its entry took there; the indexes serve the statement, whole or by source, in that order.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `alter table ledger_transactions add column account_id text, add column account_version bigint`,
    // Transactions are insert-only: this one backfill runs with the guard off, in the migration's transaction.
    `alter table ledger_transactions disable trigger ledger_transactions_immutable`,
    `update ledger_transactions t
        set account_id = e.account_id, account_version = e.account_version
       from ledger_entries e
       join ledger_accounts a on a.tenant_id = e.tenant_id and a.id = e.account_id
      where e.tenant_id = t.tenant_id and e.transaction_id = t.id and a.kind <> 'counter'`,
    `alter table ledger_transactions enable trigger ledger_transactions_immutable`,
    `alter table ledger_transactions alter column account_id set not null, alter column account_version set not null`,
    // One transaction per position of an account's chain.
    `create unique index ledger_transactions_by_account on ledger_transactions (tenant_id, account_id, account_version)`,
    `create index ledger_transactions_by_account_source
       on ledger_transactions (tenant_id, account_id, source, account_version)`,
    `drop index ledger_transactions_listing`,
    `drop index ledger_transactions_by_source`,

    // As in 0003_credit_ledger, but the transaction row records its place in the tenant account's chain.
    `create or replace function ledger_post(
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
       insert into ledger_transactions (tenant_id, id, type, amount, source, source_id, remark, created_at,
                                        account_id, account_version)
       values (p_tenant, p_transaction, p_type, p_amount, p_source, p_source_id, p_remark, p_at,
               p_tenant_account, current_account.version + 1);
       insert into ledger_entries (tenant_id, account_id, account_version, transaction_id, amount, balance_after, created_at)
       select p_tenant, a.id, a.version + 1, p_transaction, d.delta, a.balance + d.delta, p_at
         from ledger_accounts a
         join (values (p_tenant_account, tenant_delta), (p_counter_account, -tenant_delta)) d (account_id, delta)
           on d.account_id = a.id
        where a.tenant_id = p_tenant
        order by a.id;
       return current_account.balance + tenant_delta;
     end $$`,
  ]);
