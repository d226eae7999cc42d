import { Type, type Static } from 'typebox';
import { pageQueryFields } from '../../http/pagination.js';
import { tenantIdPattern } from '../tenants/schemas.js';

export const appIdPattern = '^app_[A-Za-z0-9_-]{1,64}$';

const appName = Type.String({ minLength: 1, maxLength: 200, examples: ['Customer portal'] });

export const TenantAppParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' }),
  app_id: Type.String({ pattern: appIdPattern, description: 'Application ID' }),
});

export const CreateAppBody = Type.Object(
  {
    app_id: Type.Optional(
      Type.String({ pattern: appIdPattern, description: "The platform's app id; generated when absent" }),
    ),
    name: appName,
  },
  { additionalProperties: false },
);
export type CreateAppInput = Static<typeof CreateAppBody>;

export const SyncAppBody = Type.Object(
  { name: appName, status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])) },
  { additionalProperties: false },
);
export type SyncAppInput = Static<typeof SyncAppBody>;

export const ListAppsQuery = Type.Object(pageQueryFields, { additionalProperties: false });

export const AppSchema = Type.Object(
  {
    app_id: Type.String({ examples: ['app_001'] }),
    tenant_id: Type.String({ examples: ['tnt_xyz789'] }),
    name: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { $id: 'App' },
);
export type AppView = Static<typeof AppSchema>;
