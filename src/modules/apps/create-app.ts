import { AppError, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { TenantContext } from '../tenant-context.js';
import { findTenant } from '../tenants/repository.js';
import { insertApp, type AppRow } from './repository.js';
import type { CreateAppInput } from './schemas.js';

export interface AppCreation extends TenantContext {
  input: CreateAppInput;
  /** Default: active. */
  status?: AppRow['status'] | undefined;
}

export const createApp = async ({
  db,
  clock,
  scope,
  input,
  status = 'active',
}: AppCreation): Promise<Result<AppRow>> => {
  if ((await findTenant(db, scope)) === undefined) return fail(notFound('tenant'));
  const now = clock.now();
  const id = input.app_id ?? newId('app');
  const row = await insertApp(db, scope, { id, name: input.name, status, created_at: now, updated_at: now });
  return row === undefined ? fail(new AppError('conflict', `app ${id} already exists`)) : ok(row);
};
