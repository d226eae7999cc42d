import { Type, type Static } from 'typebox';
import { metricCodePattern } from '../metrics/schemas.js';
import { pageQueryFields } from '../../http/pagination.js';
import { appIdPattern } from '../apps/schemas.js';
import { tenantIdPattern } from '../tenants/schemas.js';

export const alertIdPattern = '^ua_[a-z0-9]{16}$';

export const TenantAlertsParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' }),
});
export const AlertParams = Type.Object({
  tenant_id: Type.String({ pattern: tenantIdPattern, description: 'Tenant ID' }),
  alert_id: Type.String({ pattern: alertIdPattern, description: 'Usage alert ID' }),
});

const name = Type.String({ minLength: 1, maxLength: 200, examples: ['API call volume alert'] });
const thresholdPercent = Type.Integer({
  minimum: 1,
  maximum: 1000,
  description: "Percent of the plan's included units for the period (above 100: an overage alert)",
  examples: [80],
});
const channels = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'Comma list of email, in_app, webhook',
  examples: ['email,in_app'],
});
const emailRecipients = Type.String({
  minLength: 3,
  maxLength: 1000,
  description: 'Comma list of addresses; required with the email channel',
  examples: ['ops@example.com'],
});
const webhookUrl = Type.String({
  minLength: 8,
  maxLength: 2000,
  description: 'http(s) URL; required with the webhook channel',
  examples: ['https://hooks.example.com/billing'],
});

export const CreateAlertBody = Type.Object(
  {
    name,
    resource_type: Type.String({
      pattern: metricCodePattern,
      description: 'A billable metric (a built-in resource type or one an admin defined)',
      examples: ['api_calls'],
    }),
    threshold_percent: thresholdPercent,
    notification_channels: channels,
    app_id: Type.Optional(
      Type.String({ pattern: appIdPattern, description: "One app's usage; the tenant's when absent" }),
    ),
    email_recipients: Type.Optional(emailRecipients),
    webhook_url: Type.Optional(webhookUrl),
  },
  { additionalProperties: false },
);
export type CreateAlertInput = Static<typeof CreateAlertBody>;

export const UpdateAlertBody = Type.Object(
  {
    name: Type.Optional(name),
    threshold_percent: Type.Optional(thresholdPercent),
    notification_channels: Type.Optional(channels),
    email_recipients: Type.Optional(Type.Union([emailRecipients, Type.Null()])),
    webhook_url: Type.Optional(Type.Union([webhookUrl, Type.Null()])),
    status: Type.Optional(Type.Enum(['active', 'disabled'])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateAlertInput = Static<typeof UpdateAlertBody>;

export const ListAlertsQuery = Type.Object(pageQueryFields, { additionalProperties: false });

export const UsageAlertSchema = Type.Object(
  {
    app_id: Type.Union([Type.String(), Type.Null()], { examples: ['app_001'] }),
    created_at: Type.String({ examples: ['2026-05-01T00:00:00Z'] }),
    id: Type.String({ examples: ['ua_001'] }),
    last_triggered_at: Type.Union([Type.String(), Type.Null()], { examples: ['2026-05-10T08:00:00Z'] }),
    name: Type.String({ examples: ['API call volume alert'] }),
    notification_channels: Type.String({ examples: ['email,in_app'] }),
    resource_type: Type.String({ examples: ['api_calls'] }),
    status: Type.String({ examples: ['active'] }),
    tenant_id: Type.String({ examples: ['tnt_xyz789'] }),
    threshold_percent: Type.Integer({ examples: [80] }),
    updated_at: Type.String({ examples: ['2026-05-05T10:00:00Z'] }),
    email_recipients: Type.Union([Type.String(), Type.Null()]),
    webhook_url: Type.Union([Type.String(), Type.Null()]),
    webhook_secret: Type.Union([Type.String(), Type.Null()], {
      description:
        'Standard Webhooks signing secret (whsec_…) of the webhook channel; only in the answer to a create or change',
    }),
  },
  { $id: 'UsageAlertResponse' },
);
