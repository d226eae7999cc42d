import type { Clock } from '../../core/clock.js';
import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { checkEventTypes, newEndpointSecret, previousSecretValidMs } from './endpoint-settings.js';
import { lockEndpoint, updateEndpoint, type EndpointOwner, type EndpointRow } from './repository.js';
import type { UpdateEndpointInput } from './schemas.js';
import { checkEndpointUrl } from './url-rules.js';

export interface EndpointChange {
  db: Db;
  clock: Clock;
  owner: EndpointOwner;
  endpointId: string;
}

type EndpointPatch = Parameters<typeof updateEndpoint>[2];

/** Locks the owner's endpoint, works out the change from it, writes it: one transaction. */
const changeLocked = ({ db, owner, endpointId }: EndpointChange, change: (row: EndpointRow) => Result<EndpointPatch>) =>
  db.transaction().execute(async (trx): Promise<Result<EndpointRow>> => {
    const row = await lockEndpoint(trx, owner, endpointId);
    if (row === undefined) return fail(notFound('webhook endpoint'));
    const patch = change(row);
    if (!patch.ok) return patch;
    return ok(await updateEndpoint(trx, endpointId, patch.value));
  });

/**
 * URL, event types, description, enabled. Enabling forgets past failures, so a re-enabled
 * endpoint gets its full 72 h again; its pending deliveries resume.
 */
export const updateEndpointSettings = (
  change: EndpointChange & { input: UpdateEndpointInput; allowInternalAddresses: boolean },
): Promise<Result<EndpointRow>> =>
  changeLocked(change, (row) => {
    const { input } = change;
    const patch: EndpointPatch = { updated_at: change.clock.now() };
    if (input.url !== undefined) {
      const url = checkEndpointUrl(input.url, change.allowInternalAddresses);
      if (!url.ok) return url;
      patch.url = url.value;
    }
    if (input.event_types !== undefined) {
      const types = input.event_types === null ? ok(null) : checkEventTypes(input.event_types);
      if (!types.ok) return types;
      patch.event_types = types.value === null ? null : JSON.stringify(types.value);
    }
    if (input.description !== undefined) patch.description = input.description;
    if (input.enabled === true && !row.enabled) {
      Object.assign(patch, { enabled: true, disabled_reason: null, failing_since: null });
    }
    if (input.enabled === false && row.enabled) Object.assign(patch, { enabled: false, disabled_reason: 'manual' });
    return ok(patch);
  });

/** Deleted endpoints are kept (their delivery log refers to them) but receive nothing and are no longer shown. */
export const deleteEndpoint = (change: EndpointChange): Promise<Result<EndpointRow>> =>
  changeLocked(change, (row) => {
    const now = change.clock.now();
    return ok({
      deleted_at: now,
      updated_at: now,
      enabled: false,
      disabled_reason: row.disabled_reason ?? 'manual',
    });
  });

/**
 * A new secret; the one it replaces still signs for 24 h (both signatures are sent), so receivers
 * can switch without refusing a message. A second rotation within the 24 h ends the oldest at once.
 */
export const rotateEndpointSecret = (change: EndpointChange): Promise<Result<EndpointRow>> =>
  changeLocked(change, (row) => {
    const now = change.clock.now();
    return ok({
      secret: newEndpointSecret(),
      previous_secret: row.secret,
      previous_secret_expires_at: new Date(now.getTime() + previousSecretValidMs),
      updated_at: now,
    });
  });
