import type { Clock } from '../../core/clock.js';
import { invalidParameter } from '../../core/errors.js';
import { parseLogoDataUrl } from '../../core/images.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { issuerFromRow, type Issuer } from './read-issuer.js';
import { upsertIssuerRow } from './repository.js';
import type { SaveIssuerInput } from './schemas.js';

/** Replaces the issuer with `input`: a field left out is empty, as is the logo. */
export const saveIssuer = async (
  db: Db,
  clock: Clock,
  input: SaveIssuerInput,
  updatedBy: string,
): Promise<Result<Issuer>> => {
  const logo = input.logo === undefined || input.logo === null ? null : parseLogoDataUrl(input.logo);
  if (typeof logo === 'string') return fail(invalidParameter('body', 'logo', logo));
  const row = await upsertIssuerRow(db, {
    legal_name: input.legal_name,
    address: input.address ?? null,
    tax_id: input.tax_id ?? null,
    email: input.email ?? null,
    phone: input.phone ?? null,
    logo: logo?.bytes ?? null,
    logo_type: logo?.type ?? null,
    updated_at: clock.now(),
    updated_by: updatedBy,
  });
  return ok(issuerFromRow(row));
};
