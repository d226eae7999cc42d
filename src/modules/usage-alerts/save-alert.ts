import type { Clock } from '../../core/clock.js';
import { invalidParameter, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { findApp } from '../apps/repository.js';
import { checkMetricExists } from '../metrics/metric-rules.js';
import type { TenantScope } from '../../core/principal.js';
import type { TenantContext } from '../tenant-context.js';
import { findTenant } from '../tenants/repository.js';
import { newWebhookSecret, validateDelivery } from './alert-settings.js';
import { insertAlert, lockAlert, updateAlert, type AlertRow } from './repository.js';
import type { CreateAlertInput, UpdateAlertInput } from './schemas.js';

export const createAlert = async (
  db: Db,
  clock: Clock,
  scope: TenantScope,
  input: CreateAlertInput,
): Promise<Result<AlertRow>> => {
  if ((await findTenant(db, scope)) === undefined) return fail(notFound('tenant'));
  if (input.app_id !== undefined && (await findApp(db, scope, input.app_id)) === undefined) {
    return fail(invalidParameter('body', 'app_id', 'names no app of this tenant'));
  }
  const metric = await checkMetricExists(db, input.resource_type, 'resource_type');
  if (!metric.ok) return metric;
  const delivery = validateDelivery(
    input.notification_channels,
    input.email_recipients ?? null,
    input.webhook_url ?? null,
  );
  if (!delivery.ok) return delivery;
  const now = clock.now();
  return ok(
    await insertAlert(db, scope, {
      id: newId('usageAlert'),
      app_id: input.app_id ?? null,
      name: input.name,
      resource_type: input.resource_type,
      threshold_percent: input.threshold_percent,
      notification_channels: delivery.value.channels.join(','),
      email_recipients: delivery.value.emailRecipients,
      webhook_url: delivery.value.webhookUrl,
      webhook_secret: delivery.value.webhookUrl === null ? null : newWebhookSecret(),
      status: 'active',
      last_triggered_at: null,
      created_at: now,
      updated_at: now,
    }),
  );
};

export interface AlertChange extends TenantContext {
  alertId: string;
  input: UpdateAlertInput;
}

/** Changes an alert; the channels, addresses and URL are checked together as they will stand. */
export const changeAlert = async ({ db, clock, scope, alertId, input }: AlertChange): Promise<Result<AlertRow>> =>
  db.transaction().execute(async (trx) => {
    const alert = await lockAlert(trx, scope, alertId);
    if (alert === undefined) return fail(notFound('usage alert'));
    const delivery = validateDelivery(
      input.notification_channels ?? alert.notification_channels,
      input.email_recipients === undefined ? alert.email_recipients : input.email_recipients,
      input.webhook_url === undefined ? alert.webhook_url : input.webhook_url,
    );
    if (!delivery.ok) return delivery;
    const webhookUrl = delivery.value.webhookUrl;
    return ok(
      await updateAlert(trx, scope, alertId, {
        ...(input.name === undefined ? {} : { name: input.name }),
        ...(input.threshold_percent === undefined ? {} : { threshold_percent: input.threshold_percent }),
        ...(input.status === undefined ? {} : { status: input.status }),
        notification_channels: delivery.value.channels.join(','),
        email_recipients: delivery.value.emailRecipients,
        webhook_url: webhookUrl,
        // A secret stays with its URL's alert; a webhook added later gets a new one.
        webhook_secret: webhookUrl === null ? null : (alert.webhook_secret ?? newWebhookSecret()),
        updated_at: clock.now(),
      }),
    );
  });
