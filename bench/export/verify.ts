import type { DatabaseHandle } from '../../src/db/database.js';
import { withClient } from '../lib/server.js';
import type { Download } from './download.js';

/** What the export must hold for the user's tenants, counted by the database. */
const expectedCountsSql = `
with mine as (select id from tenants where admin_user_id = $1)
select (select count(*) from billing_records where tenant_id in (select id from mine))::int as billing_records,
       (select count(*) from ledger_transactions t join ledger_entries e
          on e.tenant_id = t.tenant_id and e.transaction_id = t.id and e.account_id = 'cash'
        where t.tenant_id in (select id from mine))::int as credit_transactions,
       (select count(*) from (select distinct tenant_id, usage_date from usage_daily
                              where tenant_id in (select id from mine)) d)::int as usage_stats,
       (select count(*) from mine)::int as credit_balance,
       (select count(*) from billing_record_lines where tenant_id in (select id from mine))::int as lines`;

export const expectedCounts = (url: string, userId: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query<Record<string, number>>(expectedCountsSql, [userId]);
    return rows[0] as Record<
      'billing_records' | 'credit_transactions' | 'usage_stats' | 'credit_balance' | 'lines',
      number
    >;
  });

export interface ExportCheck {
  handle: DatabaseHandle;
  result: Download;
  requestedBy: string;
  userId: string;
  expected: Record<string, number>;
}

/** Throws unless the body looks whole and the completed audit row counts every row expected; the counts. */
export const verifyExport = async ({
  handle,
  result,
  requestedBy,
  userId,
  expected,
}: ExportCheck): Promise<Record<string, number>> => {
  if (result.status !== 200) throw new Error(`export: ${result.status} ${result.head}`);
  if (!result.head.startsWith('{"code":200') || !result.tail.endsWith('}')) {
    throw new Error(`the body does not look complete: ${result.head.slice(0, 80)} … ${result.tail.slice(-80)}`);
  }
  const audit = await handle.db
    .selectFrom('export_audit_log')
    .select(['id', 'event', 'row_counts'])
    .where('requested_by', '=', requestedBy)
    .where('user_id', '=', userId)
    .execute();
  const counts = (audit.find((row) => row.event === 'completed')?.row_counts ?? {}) as Record<string, number>;
  for (const [kind, n] of Object.entries(expected)) {
    if (counts[kind] !== n) throw new Error(`exported ${counts[kind]} ${kind}, expected ${n}`);
  }
  return counts;
};

/** The audit events an export requested by `requestedBy` left. */
export const auditEvents = async (handle: DatabaseHandle, requestedBy: string): Promise<string[]> =>
  (
    await handle.db
      .selectFrom('export_audit_log')
      .select('event')
      .where('requested_by', '=', requestedBy)
      .orderBy('event')
      .execute()
  ).map((row) => row.event);
