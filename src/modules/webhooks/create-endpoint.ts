import { notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../core/clock.js';
import { tenantExists } from '../events/repository.js';
import { checkEventTypes, newEndpointSecret } from './endpoint-settings.js';
import { insertEndpoint, type EndpointOwner, type EndpointRow } from './repository.js';
import type { CreateEndpointInput } from './schemas.js';
import { checkEndpointUrl } from './url-rules.js';

export interface EndpointCreation {
  db: Db;
  clock: Clock;
  owner: EndpointOwner;
  input: CreateEndpointInput;
  allowInternalAddresses: boolean;
}

/** A new enabled endpoint with a fresh secret; it receives events committed from now on. */
export const createEndpoint = async ({
  db,
  clock,
  owner,
  input,
  allowInternalAddresses,
}: EndpointCreation): Promise<Result<EndpointRow>> => {
  const url = checkEndpointUrl(input.url, allowInternalAddresses);
  if (!url.ok) return url;
  const types = input.event_types === undefined ? ok(null) : checkEventTypes(input.event_types);
  if (!types.ok) return types;
  if (owner.tenantId !== null && !(await tenantExists(db, { tenantId: owner.tenantId })))
    return fail(notFound('tenant'));
  const now = clock.now();
  return ok(
    await insertEndpoint(db, {
      id: newId('webhookEndpoint'),
      tenant_id: owner.tenantId,
      url: url.value,
      event_types: types.value === null ? null : JSON.stringify(types.value),
      description: input.description ?? null,
      enabled: true,
      disabled_reason: null,
      secret: newEndpointSecret(),
      previous_secret: null,
      previous_secret_expires_at: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
      deleted_at: null,
    }),
  );
};
