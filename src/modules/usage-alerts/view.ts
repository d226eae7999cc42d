import { toRfc3339 } from '../../core/clock.js';
import type { AlertRow } from './repository.js';

/** The webhook signing secret goes only to writers (tenant admins), in the answer to a write. */
export const toAlertView = (alert: AlertRow, { withSecret }: { withSecret: boolean }) => ({
  app_id: alert.app_id,
  created_at: toRfc3339(alert.created_at),
  id: alert.id,
  last_triggered_at: alert.last_triggered_at === null ? null : toRfc3339(alert.last_triggered_at),
  name: alert.name,
  notification_channels: alert.notification_channels,
  resource_type: alert.resource_type,
  status: alert.status,
  tenant_id: alert.tenant_id,
  threshold_percent: alert.threshold_percent,
  updated_at: toRfc3339(alert.updated_at),
  email_recipients: alert.email_recipients,
  webhook_url: alert.webhook_url,
  webhook_secret: withSecret ? alert.webhook_secret : null,
});
