import { toRfc3339 } from '../../core/clock.js';
import { toMajorNumber } from '../../core/money.js';
import type { TenantRow } from '../tenants/repository.js';
import type { CreditTransactionRow, LedgerAccountRow } from './repository.js';
import type { CreditBalanceView, CreditTransactionView } from './schemas.js';

export const toCreditTransactionView = (row: CreditTransactionRow, currency: string): CreditTransactionView => ({
  amount: toMajorNumber(row.amount, currency),
  balance: toMajorNumber(row.balance_after, currency),
  created_at: toRfc3339(row.created_at),
  id: row.id,
  remark: row.remark,
  source: row.source,
  source_id: row.source_id,
  tenant_id: row.tenant_id,
  type: row.type,
});

/** A tenant that never moved credit has a zero balance, dated from its creation. */
export const toCreditBalanceView = (tenant: TenantRow, account: LedgerAccountRow | undefined): CreditBalanceView => ({
  balance: toMajorNumber(account?.balance ?? 0n, tenant.currency),
  currency: tenant.currency,
  tenant_id: tenant.id,
  updated_at: toRfc3339(account?.updated_at ?? tenant.created_at),
});
