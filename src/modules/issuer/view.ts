import { toRfc3339 } from '../../core/clock.js';
import { toDataUrl } from '../../core/images.js';
import type { Issuer } from './read-issuer.js';
import type { IssuerView } from './schemas.js';

export const toIssuerView = (issuer: Issuer): IssuerView => ({
  legal_name: issuer.legalName,
  address: issuer.address,
  tax_id: issuer.taxId,
  email: issuer.email,
  phone: issuer.phone,
  logo: issuer.logo === null ? null : toDataUrl(issuer.logo),
  source: issuer.source,
  updated_at: issuer.updatedAt === null ? null : toRfc3339(issuer.updatedAt),
});
