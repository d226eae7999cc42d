import type { IssuerConfig } from '../../config.js';
import type { Db } from '../../db/database.js';
import { findIssuerRow, type IssuerRow } from './repository.js';

/** The platform operator as every invoice names it: the configuration's fields, and where they came from. */
export interface Issuer extends IssuerConfig {
  /** `settings`: saved by `PUT /admin/settings/issuer`; `configuration`: `BILLING_ISSUER_*` (or the default name). */
  source: 'settings' | 'configuration';
  /** When the settings were saved; null for the configuration. */
  updatedAt: Date | null;
}

/** Both drivers' bytea (a Buffer on pg, a Uint8Array on PGlite) as a Buffer, without copying. */
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export const issuerFromRow = (row: IssuerRow): Issuer => ({
  legalName: row.legal_name,
  address: row.address,
  taxId: row.tax_id,
  email: row.email,
  phone: row.phone,
  logo: row.logo === null || row.logo_type === null ? null : { type: row.logo_type, bytes: asBuffer(row.logo) },
  source: 'settings',
  updatedAt: row.updated_at,
});

export const issuerFromConfig = (config: IssuerConfig): Issuer => ({
  ...config,
  source: 'configuration',
  updatedAt: null,
});

/**
 * The issuer in effect: the saved settings when there are any (all of them: a field they leave
 * empty is empty on the invoice), otherwise the configuration's `fallback`. One read, no lock.
 */
export const readIssuer = async (db: Db, fallback: IssuerConfig): Promise<Issuer> => {
  const row = await findIssuerRow(db);
  return row === undefined ? issuerFromConfig(fallback) : issuerFromRow(row);
};
