import { AppError } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { TenantContext } from '../tenant-context.js';
import { createApp } from './create-app.js';
import { updateApp, type AppRow } from './repository.js';
import type { SyncAppInput } from './schemas.js';

export interface AppSync extends TenantContext {
  appId: string;
  input: SyncAppInput;
}

/** The platform pushes its apps here: created on first sight, updated after. Safe to repeat. */
export const syncApp = async ({
  db,
  clock,
  scope,
  appId,
  input,
}: AppSync): Promise<Result<{ app: AppRow; created: boolean }>> => {
  const update = () =>
    updateApp(db, scope, appId, {
      name: input.name,
      ...(input.status === undefined ? {} : { status: input.status }),
      updated_at: clock.now(),
    });
  const existing = await update();
  if (existing !== undefined) return ok({ app: existing, created: false });
  const created = await createApp({
    db,
    clock,
    scope,
    input: { app_id: appId, name: input.name },
    status: input.status,
  });
  if (created.ok) return ok({ app: created.value, created: true });
  if (created.error.type !== 'conflict') return created;
  // Either a concurrent sync created it for this tenant, or the id belongs to another tenant.
  const raced = await update();
  if (raced !== undefined) return ok({ app: raced, created: false });
  return fail(new AppError('conflict', `app id ${appId} is not available`));
};
