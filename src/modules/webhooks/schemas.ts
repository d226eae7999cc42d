import { Type, type Static } from 'typebox';
import { tenantIdPattern } from '../../core/ids.js';
import { pageQueryFields } from '../../http/pagination.js';
import { maxUrlLength } from './url-rules.js';

export const endpointIdPattern = '^we_[a-z0-9]{16}$';
export const deliveryIdPattern = '^whd_[0-9a-f]{32}$';
const eventIdPattern = '^evt_[a-z0-9]{25}$';

const tenantId = Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' });
const endpointId = Type.String({ pattern: endpointIdPattern, description: 'Webhook endpoint ID' });
const deliveryId = Type.String({ pattern: deliveryIdPattern, description: 'Webhook delivery ID' });

export const TenantEndpointsParams = Type.Object({ tenant_id: tenantId });
export const TenantEndpointParams = Type.Object({ tenant_id: tenantId, endpoint_id: endpointId });
export const TenantDeliveryParams = Type.Object({
  tenant_id: tenantId,
  endpoint_id: endpointId,
  delivery_id: deliveryId,
});
export const PlatformEndpointParams = Type.Object({ endpoint_id: endpointId });
export const PlatformDeliveryParams = Type.Object({ endpoint_id: endpointId, delivery_id: deliveryId });

const url = Type.String({
  minLength: 1,
  maxLength: maxUrlLength,
  description: 'http(s) URL without credentials; internal addresses only where BILLING_WEBHOOK_ALLOW_PRIVATE=true',
  examples: ['https://hooks.example.com/billing'],
});
const eventTypes = Type.Array(Type.String({ maxLength: 100 }), {
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  description: 'Event types (billing_record.paid) and objects (subscription.*) to receive; absent or null: all',
  examples: [['billing_record.*', 'subscription.canceled']],
});
const description = Type.String({ maxLength: 500, examples: ['Accounting sync'] });

export const CreateEndpointBody = Type.Object(
  { url, event_types: Type.Optional(eventTypes), description: Type.Optional(description) },
  { additionalProperties: false },
);
export type CreateEndpointInput = Static<typeof CreateEndpointBody>;

export const UpdateEndpointBody = Type.Object(
  {
    url: Type.Optional(url),
    event_types: Type.Optional(Type.Union([eventTypes, Type.Null()])),
    description: Type.Optional(Type.Union([description, Type.Null()])),
    enabled: Type.Optional(Type.Boolean({ description: 'true also forgets past failures' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateEndpointInput = Static<typeof UpdateEndpointBody>;

export const ListEndpointsQuery = Type.Object(pageQueryFields, { additionalProperties: false });

export const deliveryStatuses = ['pending', 'delivered', 'failed'] as const;

export const ListDeliveriesQuery = Type.Object(
  {
    ...pageQueryFields,
    status: Type.Optional(Type.Enum(deliveryStatuses)),
    event_id: Type.Optional(Type.String({ pattern: eventIdPattern, description: 'Deliveries of this event' })),
  },
  { additionalProperties: false },
);
export type ListDeliveriesInput = Static<typeof ListDeliveriesQuery>;

const nullableTime = Type.Union([Type.String(), Type.Null()], { description: 'RFC 3339, UTC' });

export const WebhookEndpointSchema = Type.Object(
  {
    id: Type.String({ examples: ['we_0123456789abcdef'] }),
    tenant_id: Type.Union([Type.String(), Type.Null()], { description: 'null: platform-wide, every tenant' }),
    url: Type.String(),
    event_types: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'null: every type' }),
    description: Type.Union([Type.String(), Type.Null()]),
    enabled: Type.Boolean(),
    disabled_reason: Type.Union([Type.Literal('manual'), Type.Literal('failing'), Type.Null()], {
      description: 'manual: turned off or deleted by a user; failing: every attempt failed for 72 h',
    }),
    failing_since: Type.Union([Type.String(), Type.Null()], {
      description: 'The first failed attempt since the last successful one',
    }),
    created_at: Type.String(),
    updated_at: Type.String(),
    secret: Type.Optional(
      Type.String({
        description: 'Signing secret (whsec_…); only in the answers to create and rotate-secret',
        examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      }),
    ),
  },
  { $id: 'WebhookEndpoint' },
);

export const WebhookDeliverySchema = Type.Object(
  {
    id: Type.String({ examples: ['whd_0123456789abcdef0123456789abcdef'] }),
    endpoint_id: Type.String(),
    event_id: Type.String({ description: 'Sent as webhook-id: the same on every attempt' }),
    event_type: Type.String(),
    status: Type.Enum(deliveryStatuses),
    attempt_count: Type.Integer(),
    next_attempt_at: nullableTime,
    first_attempted_at: nullableTime,
    last_attempted_at: nullableTime,
    attempts: Type.Array(
      Type.Object({
        attempt: Type.Integer(),
        kind: Type.Union([Type.Literal('scheduled'), Type.Literal('resend'), Type.Literal('test')]),
        started_at: Type.String(),
        latency_ms: Type.Integer(),
        http_status: Type.Union([Type.Integer(), Type.Null()]),
        error: Type.Union([Type.String(), Type.Null()]),
        response_body: Type.Union([Type.String(), Type.Null()], { description: 'The first KiB of the answer' }),
      }),
      { description: 'Every recorded attempt, oldest first' },
    ),
  },
  { $id: 'WebhookDelivery' },
);

export type WebhookEndpointView = Static<typeof WebhookEndpointSchema>;
export type WebhookDeliveryView = Static<typeof WebhookDeliverySchema>;
