import { accountIdOf } from '../../src/modules/payg/instruments.js';
import { tenantCreditAccount } from '../../src/modules/credit-ledger/sources.js';
import { postAll, type Posting } from '../lib/ledger.js';
import { withClient } from '../lib/server.js';
import { insertRows } from '../lib/sql.js';
import { clock, meteredResources, settledDay } from './config.js';
import { at, issueSources, type BenchTenant } from './workload.js';

/**
 * The template's data with multi-row INSERTs (every constraint and trigger in force): tenants,
 * apps, the day's usage rollups, and the instruments, each issued through ledger_post as the
 * service issues them.
 */
export const loadTemplate = async (url: string, tenants: BenchTenant[]): Promise<void> => {
  await withClient(url, async (client) => {
    const loadedAt = clock.now();
    await insertRows(
      client,
      'tenants',
      ['id', 'name', 'currency', 'time_zone', 'tax_rate', 'admin_user_id', 'status', 'created_at', 'updated_at'],
      tenants.map((t) => [
        t.id,
        `Bench ${t.id}`,
        t.currency,
        t.timeZone,
        '0.06',
        'usr_bench',
        'active',
        t.createdAt,
        t.createdAt,
      ]),
    );
    await insertRows(
      client,
      'apps',
      ['tenant_id', 'id', 'name', 'status', 'created_at', 'updated_at'],
      tenants.flatMap((t) => t.appIds.map((appId) => [t.id, appId, appId, 'active', t.createdAt, t.createdAt])),
    );
    const usageColumns = [
      'tenant_id',
      'app_id',
      'resource_type',
      'usage_date',
      'aggregation',
      'quantity',
      'latest_at',
      'event_count',
      'updated_at',
    ];
    await insertRows(
      client,
      'usage_daily',
      usageColumns,
      tenants.flatMap((t) => [
        ...t.consumption.map((c) => [
          t.id,
          c.appId,
          c.billingKey,
          settledDay,
          'sum',
          c.quantity,
          at(t.dayEnd, -60_000),
          c.quantity < 1000n ? c.quantity : 1000n,
          loadedAt,
        ]),
        ...t.appIds.flatMap((appId) =>
          meteredResources.map((resource) => [
            t.id,
            appId,
            resource,
            settledDay,
            resource === 'storage_used' ? 'max' : 'sum',
            12_345n,
            at(t.dayEnd, -60_000),
            10n,
            loadedAt,
          ]),
        ),
      ]),
    );
    // Instruments are issued as the service issues them: a ledger credit into their account first.
    const issuedAt = (t: BenchTenant) => at(t.createdAt, 60_000);
    await postAll(client, [
      ...tenants.flatMap((t) =>
        t.instruments.map((i): Posting => ({
          tenantId: t.id,
          transactionId: i.transactionId,
          type: 'credit',
          amount: i.amount,
          source: issueSources[i.kind],
          sourceId: i.id,
          remark: `${i.kind.replace('_', ' ')} ${i.id}`,
          at: issuedAt(t),
          currency: t.currency,
          account: accountIdOf(i.id),
        })),
      ),
      ...tenants
        .filter((t) => t.cash > 0n)
        .map((t): Posting => ({
          tenantId: t.id,
          transactionId: t.cashTransactionId,
          type: 'credit',
          amount: t.cash,
          source: 'promo',
          sourceId: null,
          remark: 'bench promo credit',
          at: issuedAt(t),
          currency: t.currency,
          account: tenantCreditAccount,
        })),
    ]);
    await insertRows(
      client,
      'payg_instruments',
      [
        'tenant_id',
        'id',
        'kind',
        'account_id',
        'issued_amount',
        'valid_from',
        'valid_to',
        'product_keys',
        'customer_identifier',
        'created_at',
      ],
      tenants.flatMap((t) =>
        t.instruments.map((i) => [
          t.id,
          i.id,
          i.kind,
          accountIdOf(i.id),
          i.amount,
          i.validFrom,
          i.validTo,
          i.productKeys,
          i.customerIdentifier,
          issuedAt(t),
        ]),
      ),
    );
    await client.query('vacuum analyze');
  });
};
