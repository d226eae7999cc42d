import { Type } from 'typebox';
import type { IssuerConfig } from '../../config.js';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access, principalOf } from '../auth/access.js';
import { issuerFromConfig, readIssuer } from './read-issuer.js';
import { deleteIssuerRow } from './repository.js';
import { saveIssuer } from './save-issuer.js';
import { IssuerSchema, SaveIssuerBody } from './schemas.js';
import { toIssuerView } from './view.js';

export interface IssuerRouteDependencies extends RouteDependencies {
  /** The configuration's issuer (`BILLING_ISSUER_*`), in effect while no settings are saved. */
  issuerFallback: IssuerConfig;
}

/** The platform operator printed on every invoice: read by staff, set and reset by platform admins. */
export const registerIssuerRoutes = (
  app: Api,
  { database: { db }, clock, issuerFallback }: IssuerRouteDependencies,
): void => {
  app.addSchema(IssuerSchema);
  const issuerResponse = ObjectEnvelope(Type.Ref('DocumentIssuer'));

  app.get(
    '/admin/settings/issuer',
    {
      config: { access: access.staff },
      schema: {
        operationId: 'getIssuer',
        tags: ['admin'],
        summary: 'The issuer printed on invoices: the saved settings, or the configuration while none are saved',
        response: { 200: issuerResponse },
      },
    },
    async () => objectEnvelope(toIssuerView(await readIssuer(db, issuerFallback)), clock.now()),
  );

  app.put(
    '/admin/settings/issuer',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'setIssuer',
        tags: ['admin'],
        summary: 'Set the issuer printed on invoices (replaces the saved settings; absent fields are empty)',
        body: SaveIssuerBody,
        response: { 200: issuerResponse },
      },
    },
    async (request) => {
      const issuer = unwrap(await saveIssuer(db, clock, request.body, principalOf(request).userId));
      return objectEnvelope(toIssuerView(issuer), clock.now());
    },
  );

  app.delete(
    '/admin/settings/issuer',
    {
      config: { access: access.platformAdmin },
      schema: {
        operationId: 'resetIssuer',
        tags: ['admin'],
        summary: "Remove the saved issuer: invoices use the configuration's (BILLING_ISSUER_*) again",
        response: { 200: issuerResponse },
      },
    },
    async () => {
      await deleteIssuerRow(db);
      return objectEnvelope(toIssuerView(issuerFromConfig(issuerFallback)), clock.now());
    },
  );
};
