import { sql } from 'kysely';
import type { Clock } from '../../src/core/clock.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { postCreditTransaction } from '../../src/modules/credit-ledger/post-credit-transaction.js';
import { buildBenchApp } from '../lib/app.js';
import { faultsIn, ledgerFaults } from '../lib/ledger.js';
import { withClient } from '../lib/server.js';
import { hotTenant, tenantIds } from './postings.js';

/** The spread tenants and the hot one, made through the API; each funded with 1,000,000.00 so the debits always go through. */
export const createFundedTenants = async (
  database: DatabaseHandle,
  clock: Clock,
  admin: { authorization: string },
): Promise<void> => {
  const setupApp = await buildBenchApp(database, clock);
  await setupApp.ready();
  for (const tenantId of [...tenantIds, hotTenant]) {
    const response = await setupApp.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: admin,
      payload: { tenant_id: tenantId, name: `Bench ${tenantId}`, admin_user_id: 'usr_bench', currency: 'CNY' },
    });
    if (response.statusCode !== 201) throw new Error(`tenant ${tenantId}: ${response.statusCode} ${response.body}`);
    const funded = await database.db.transaction().execute((trx) =>
      postCreditTransaction(
        trx,
        clock,
        { tenantId },
        {
          type: 'credit',
          amount: 100_000_000n,
          source: 'top_up',
          sourceId: 'bench_funding',
          remark: 'bench funding',
          currency: 'CNY',
        },
      ),
    );
    if (!funded.ok) throw new Error(`funding ${tenantId}: ${funded.error.message}`);
  }
  await setupApp.close();
  await sql`vacuum analyze`.execute(database.db);
};

/**
 * Chain, zero-sum, cached-head and orphan checks over the whole ledger, with its size and the
 * deadlocks seen (`books`), and what of it is broken.
 */
export const checkBooks = (url: string) =>
  withClient(url, async (client) => {
    const count = async (text: string) => Number((await client.query<{ n: string }>(text)).rows[0]?.n ?? Number.NaN);
    const transactions = await count(`select count(*) as n from ledger_transactions`);
    const faults = await ledgerFaults(client);
    const deadlocks = await count(`select deadlocks as n from pg_stat_database where datname = current_database()`);
    return { books: { transactions, ...faults, deadlocks }, broken: faultsIn(faults) };
  });
