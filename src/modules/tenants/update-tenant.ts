import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { hasMoneyIn, updateTenant as updateTenantRow, type TenantRow } from './repository.js';
import type { UpdateTenantInput } from './schemas.js';
import { validateTenantSettings } from './settings.js';

export const updateTenant = async (
  db: Db,
  clock: Clock,
  scope: TenantScope,
  input: UpdateTenantInput,
): Promise<Result<TenantRow>> => {
  const settings = validateTenantSettings(input);
  if (!settings.ok) return settings;
  const { currency } = settings.value;
  if (currency !== undefined && (await hasMoneyIn(db, scope, currency))) {
    return fail(
      new AppError(
        'conflict',
        'the currency cannot change once the tenant has invoices or a credit balance in another',
      ),
    );
  }
  const row = await updateTenantRow(db, scope, {
    ...(input.name === undefined ? {} : { name: input.name }),
    ...(input.admin_user_id === undefined ? {} : { admin_user_id: input.admin_user_id }),
    ...(input.status === undefined ? {} : { status: input.status }),
    ...settings.value,
    updated_at: clock.now(),
  });
  return row === undefined ? fail(notFound('tenant')) : ok(row);
};
