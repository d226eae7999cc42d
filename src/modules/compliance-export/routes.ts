import { Type } from 'typebox';
import { unwrap } from '../../core/result.js';
import type { Api, RouteDependencies } from '../../http/api.js';
import { errorResponses } from '../../http/envelope.js';
import { access, principalOf } from '../auth/access.js';
import { tenantIdPattern, userIdPattern } from '../tenants/schemas.js';
import { exportUserData } from './export-user-data.js';
import { ExportUserDataResponse, exportItemSchemas } from './schemas.js';

const ExportUserDataBody = Type.Object(
  {
    user_id: Type.String({
      pattern: userIdPattern,
      description: 'The user whose data is exported',
      examples: ['usr_abc123'],
    }),
    tenant_id: Type.Optional(
      Type.String({ pattern: tenantIdPattern, description: 'Only this tenant (the user must administer it)' }),
    ),
  },
  { additionalProperties: false },
);

export const registerComplianceExportRoutes = (app: Api, { database: { db }, clock }: RouteDependencies): void => {
  for (const schema of exportItemSchemas) app.addSchema(schema);
  app.post(
    '/internal/billing/export-user-data',
    {
      config: { access: access.service },
      schema: {
        operationId: 'exportUserData',
        tags: ['compliance'],
        summary:
          'Export everything the billing service holds for a user (the tenants the user administers), streamed; audited',
        body: ExportUserDataBody,
        response: { 200: ExportUserDataResponse, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const stream = unwrap(
        await exportUserData(db, clock, {
          userId: request.body.user_id,
          tenantId: request.body.tenant_id,
          requestedBy: principalOf(request).userId,
        }),
      );
      // A stream is sent as it is, never serialised: the response schema above only documents it.
      return reply.type('application/json; charset=utf-8').send(stream as never);
    },
  );
};
