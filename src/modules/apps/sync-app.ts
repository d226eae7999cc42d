import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { createApp } from './create-app.js';
import { updateApp, type AppRow } from './repository.js';
import type { SyncAppInput } from './schemas.js';

/** The platform pushes its apps here: created on first sight, updated after. Safe to repeat. */
export const syncApp = async (
  db: Db,
  clock: Clock,
  scope: TenantScope,
  appId: string,
  input: SyncAppInput,
): Promise<Result<{ app: AppRow; created: boolean }>> => {
  const update = () =>
    updateApp(db, scope, appId, {
      name: input.name,
      ...(input.status === undefined ? {} : { status: input.status }),
      updated_at: clock.now(),
    });
  const existing = await update();
  if (existing !== undefined) return ok({ app: existing, created: false });
  const created = await createApp(db, clock, scope, { app_id: appId, name: input.name }, input.status);
  if (created.ok) return ok({ app: created.value, created: true });
  if (created.error.type !== 'conflict') return created;
  // Either a concurrent sync created it for this tenant, or the id belongs to another tenant.
  const raced = await update();
  if (raced !== undefined) return ok({ app: raced, created: false });
  return fail(new AppError('conflict', `app id ${appId} is not available`));
};
