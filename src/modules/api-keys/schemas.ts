import { Type, type Static } from 'typebox';
import { pageQueryFields } from '../../http/pagination.js';
import { appIdPattern } from '../apps/schemas.js';
import { tenantIdPattern } from '../tenants/schemas.js';

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, examples: ['Finance export'] }),
    app_id: Type.Optional(Type.String({ pattern: appIdPattern, description: 'Limit the key to this app (workspace)' })),
  },
  { additionalProperties: false },
);
export type CreateApiKeyInput = Static<typeof CreateApiKeyBody>;

export const ApiKeyParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' }),
  key_id: Type.String({ pattern: '^key_[a-z0-9]{16}$', description: 'API key ID' }),
});

export const ListApiKeysQuery = Type.Object(pageQueryFields, { additionalProperties: false });

const apiKeyFields = {
  id: Type.String({ examples: ['key_0123456789abcdef'] }),
  tenant_id: Type.String(),
  name: Type.String(),
  app_id: Type.Union([Type.String(), Type.Null()], { description: 'The one app the key is limited to, or null' }),
  key_prefix: Type.String({
    description: 'The first characters of the key, to recognise it',
    examples: ['dfk_k3j9x0q2'],
  }),
  created_by: Type.String(),
  created_at: Type.String(),
  revoked_at: Type.Union([Type.String(), Type.Null()]),
};

export const ApiKeySchema = Type.Object(apiKeyFields, { $id: 'ApiKey' });
export type ApiKeyView = Static<typeof ApiKeySchema>;

export const CreatedApiKeySchema = Type.Object(
  {
    ...apiKeyFields,
    key: Type.String({ description: 'The key itself. Shown this once; only its hash is stored.' }),
  },
  { $id: 'CreatedApiKey' },
);

/** What `GET /api/v1/billing/key` tells a key holder about the key it presented. */
export const KeyInfoSchema = Type.Object({
  keyId: Type.String(),
  tenantId: Type.String(),
  workspaceUuid: Type.Union([Type.String(), Type.Null()], {
    description: 'The app the key is limited to, or null for all',
  }),
});
