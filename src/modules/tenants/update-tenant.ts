import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { DbTransaction } from '../../db/database.js';
import { recordEvents } from '../events/record-event.js';
import { toTenantView } from './view.js';
import type { TenantScope } from '../../core/principal.js';
import { billingProfileColumns } from './billing-profile.js';
import { hasMoneyIn, updateTenant as updateTenantRow, type TenantRow } from './repository.js';
import type { UpdateTenantInput } from './schemas.js';
import { validateTenantSettings } from './settings.js';

/** Takes a transaction: the change and its `tenant.updated` event commit together. */
export const updateTenant = async (
  trx: DbTransaction,
  clock: Clock,
  scope: TenantScope,
  input: UpdateTenantInput,
): Promise<Result<TenantRow>> => {
  const settings = validateTenantSettings(input);
  if (!settings.ok) return settings;
  const { currency } = settings.value;
  if (currency !== undefined && (await hasMoneyIn(trx, scope, currency))) {
    return fail(
      new AppError(
        'conflict',
        'the currency cannot change once the tenant has invoices or a credit balance in another',
      ),
    );
  }
  const at = clock.now();
  const row = await updateTenantRow(trx, scope, {
    ...(input.name === undefined ? {} : { name: input.name }),
    ...(input.admin_user_id === undefined ? {} : { admin_user_id: input.admin_user_id }),
    ...(input.status === undefined ? {} : { status: input.status }),
    ...(input.payment_terms_days === undefined ? {} : { payment_terms_days: input.payment_terms_days }),
    ...(input.locale === undefined ? {} : { locale: input.locale }),
    ...billingProfileColumns(input.billing_profile),
    ...settings.value,
    updated_at: at,
  });
  if (row === undefined) return fail(notFound('tenant'));
  await recordEvents(trx, scope, [{ type: 'tenant.updated', at, data: toTenantView(row) }]);
  return ok(row);
};
