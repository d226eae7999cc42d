import { spawn } from 'node:child_process';
import { stopwatch } from '../lib/timing.js';

/** The same rows as JSON, made by the server: records with their lines, ledger transactions, usage days. */
const baselineCopySql = (userId: string): string => `copy (
  with mine as (select id from tenants where admin_user_id = '${userId}')
  select json_build_object('record', r, 'lines', (select json_agg(l order by l.line_no) from billing_record_lines l
                                                  where l.tenant_id = r.tenant_id and l.record_id = r.id))
  from billing_records r where r.tenant_id in (select id from mine)
  union all
  select json_build_object('transaction', t, 'balance_after', e.balance_after)
  from ledger_transactions t join ledger_entries e
    on e.tenant_id = t.tenant_id and e.transaction_id = t.id and e.account_id = 'cash'
  where t.tenant_id in (select id from mine)
  union all
  select json_build_object('date', usage_date, 'totals', json_object_agg(resource_type, quantity))
  from (select tenant_id, usage_date, resource_type, sum(quantity) as quantity from usage_daily
        where tenant_id in (select id from mine) group by 1, 2, 3) u
  group by tenant_id, usage_date
) to stdout`;

/** Seconds psql takes to stream the baseline COPY to /dev/null: the physical limit of reading the rows. */
export const baselineSeconds = (url: string, userId: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const elapsed = stopwatch();
    const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', baselineCopySql(userId)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(elapsed.seconds()) : reject(new Error(`psql exited with ${code}`)),
    );
  });
