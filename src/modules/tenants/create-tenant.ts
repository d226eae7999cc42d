import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { insertTenant, type TenantRow } from './repository.js';
import type { CreateTenantInput } from './schemas.js';
import { tenantDefaults, validateTenantSettings } from './settings.js';

export const createTenant = async (db: Db, clock: Clock, input: CreateTenantInput): Promise<Result<TenantRow>> => {
  const settings = validateTenantSettings({
    currency: input.currency ?? tenantDefaults.currency,
    time_zone: input.time_zone ?? tenantDefaults.time_zone,
    tax_rate: input.tax_rate ?? tenantDefaults.tax_rate,
  });
  if (!settings.ok) return settings;
  const now = clock.now();
  const id = input.tenant_id ?? newId('tenant');
  const row = await insertTenant(db, {
    id,
    name: input.name,
    currency: settings.value.currency ?? tenantDefaults.currency,
    time_zone: settings.value.time_zone ?? tenantDefaults.time_zone,
    tax_rate: settings.value.tax_rate ?? String(tenantDefaults.tax_rate),
    payment_terms_days: input.payment_terms_days ?? tenantDefaults.payment_terms_days,
    admin_user_id: input.admin_user_id,
    status: 'active',
    created_at: now,
    updated_at: now,
  });
  return row === undefined ? fail(new AppError('conflict', `tenant ${id} already exists`)) : ok(row);
};
