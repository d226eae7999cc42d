import type { Clock } from '../../core/clock.js';
import { toMajorText } from '../../core/money.js';
import type { DbTransaction } from '../../db/database.js';
import type { RecordType } from '../../db/schema.js';
import type { TenantScope } from '../../core/principal.js';
import { writeRecord } from '../billing-records/create-record.js';
import type { RecordRow } from '../billing-records/repository.js';
import type { PlanLookup } from '../plans/plan-lookup.js';
import type { CreditBalances } from './credit-balances.js';
import type { SubscriptionWrites } from './subscription-writes.js';
import type { MeteringReads } from '../metering/metering-reads.js';
import type { TenantRow } from '../tenants/repository.js';

/** Everything a subscription's invoice needs to be written, and who writes it. */
export interface SubscriptionContext {
  trx: DbTransaction;
  scope: TenantScope;
  tenant: TenantRow;
  actor: string;
  /** Where plans are read; straight from the database when absent (a billing run caches them). */
  plans?: PlanLookup;
  /** Where credit balances are read; straight from the ledger when absent (a billing run reads a batch's at once). */
  balances?: CreditBalances;
  /** Where writes go; straight to the database when absent (a billing run's batch holds them). */
  writes?: SubscriptionWrites;
  /** Where closing metering reads; straight from the database when absent (a billing run reads a batch's at once). */
  metering?: MeteringReads;
}

export interface SingleCharge {
  type: Extract<RecordType, 'subscription' | 'proration'>;
  description: string;
  lineDescription: string;
  /** Minor units, net of tax. */
  amount: bigint;
}

/**
 * A finalised tenant-wide invoice of one line, `1 × amount`, taxed at the tenant's rate and dated
 * by the clock. Returns the record as written.
 */
export const issueSingleChargeInvoice = async (
  { trx, scope, tenant, actor, writes }: SubscriptionContext,
  clock: Clock,
  charge: SingleCharge,
): Promise<RecordRow> => {
  const written = await writeRecord({
    trx,
    clock,
    scope,
    draft: {
      appId: null,
      type: charge.type,
      description: charge.description,
      currency: tenant.currency,
      lines: [
        {
          description: charge.lineDescription,
          resourceType: 'subscription',
          quantity: 1n,
          unitPrice: toMajorText(charge.amount, tenant.currency),
          taxRate: tenant.tax_rate,
        },
      ],
      finalize: true,
      tenant,
    },
    actor,
    writes,
  });
  // Plan prices and their prorations are far below the largest invoice amount: a refusal is a bug.
  if (!written.ok) throw written.error;
  return written.value.record;
};
