import { Temporal } from 'temporal-polyfill';
import { calendarDateIn } from '../../core/billing-calendar.js';
import type { Clock } from '../../core/clock.js';
import { toRfc3339 } from '../../core/clock.js';
import { newId } from '../../core/ids.js';
import type { Db } from '../../db/database.js';
import type { TenantScope } from '../../core/principal.js';
import { findPlanVersionResources } from '../plans/repository.js';
import { liveStatuses } from '../../db/schema.js';
import { findCurrentSubscription } from '../subscriptions/repository.js';
import { findTenant } from '../tenants/repository.js';
import { usageOverDays } from '../usage/repository.js';
import { recordEvents } from '../events/record-event.js';
import { parseChannels } from './alert-settings.js';
import { toAlertView } from './view.js';
import { findActiveAlerts, type AlertRow } from './repository.js';

interface Crossing {
  alert: AlertRow;
  periodStart: Date;
  periodEnd: Date;
  usage: bigint;
  includedUnits: bigint;
}

/**
 * Checks the active alerts of these tenants against the usage of the current period so far,
 * and fires each that crossed its threshold — once per period: the firing's key is the alert and
 * the period start. Firing, the in-app notification and the outbox messages commit together, so
 * a crash leaves either all or none. Safe to run at any time, by any number of processes.
 */
export const evaluateAlerts = async (db: Db, clock: Clock, tenantIds: string[]): Promise<number> => {
  const alerts = await findActiveAlerts(db, tenantIds);
  let fired = 0;
  for (const tenantId of [...new Set(alerts.map((alert) => alert.tenant_id))]) {
    const scope = { tenantId };
    for (const crossing of await crossingsOf(
      db,
      clock,
      scope,
      alerts.filter((alert) => alert.tenant_id === tenantId),
    )) {
      if (await fire(db, clock, scope, crossing)) fired += 1;
    }
  }
  return fired;
};

const crossingsOf = async (db: Db, clock: Clock, scope: TenantScope, alerts: AlertRow[]): Promise<Crossing[]> => {
  const [tenant, sub] = await Promise.all([findTenant(db, scope), findCurrentSubscription(db, scope)]);
  if (tenant === undefined || sub === undefined || !(liveStatuses as readonly string[]).includes(sub.status)) return [];
  const included = new Map(
    (await findPlanVersionResources(db, sub.plan_id, sub.plan_version)).map((r) => [r.resource_type, r.included_units]),
  );
  const from = calendarDateIn(sub.current_period_start, tenant.time_zone);
  const tomorrow = Temporal.PlainDate.from(calendarDateIn(clock.now(), tenant.time_zone)).add({ days: 1 }).toString();
  // A period the billing run has not renewed yet is over: the next period's usage is not its.
  const periodEndDay = calendarDateIn(sub.current_period_end, tenant.time_zone);
  const until = tomorrow < periodEndDay ? tomorrow : periodEndDay;
  const totalsByApp = new Map<string | null, Map<string, bigint>>();
  const crossings: Crossing[] = [];
  for (const alert of alerts) {
    const includedUnits = included.get(alert.resource_type) ?? 0n;
    // A share of nothing is not defined: an alert on a resource the plan does not include never fires.
    if (includedUnits === 0n) continue;
    let totals = totalsByApp.get(alert.app_id);
    if (totals === undefined) {
      totals = await usageOverDays({ db, scope, from, until, appId: alert.app_id });
      totalsByApp.set(alert.app_id, totals);
    }
    const usage = totals.get(alert.resource_type) ?? 0n;
    if (usage * 100n >= includedUnits * BigInt(alert.threshold_percent)) {
      crossings.push({
        alert,
        periodStart: sub.current_period_start,
        periodEnd: sub.current_period_end,
        usage,
        includedUnits,
      });
    }
  }
  return crossings;
};

const fire = (db: Db, clock: Clock, scope: TenantScope, crossing: Crossing): Promise<boolean> =>
  db.transaction().execute(async (trx) => {
    const { alert, periodStart, periodEnd, usage, includedUnits } = crossing;
    const now = clock.now();
    const firing = await trx
      .insertInto('usage_alert_firings')
      .values({
        tenant_id: scope.tenantId,
        alert_id: alert.id,
        period_start: periodStart,
        usage,
        included_units: includedUnits,
        fired_at: now,
      })
      .onConflict((conflict) => conflict.columns(['tenant_id', 'alert_id', 'period_start']).doNothing())
      .returning('alert_id')
      .executeTakeFirst();
    if (firing === undefined) return false;
    const triggered = await trx
      .updateTable('usage_alerts')
      .set({ last_triggered_at: now })
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', alert.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordEvents(trx, scope, [
      {
        type: 'usage_alert.triggered',
        appId: alert.app_id,
        at: now,
        data: toAlertView(triggered, { withSecret: false }),
      },
    ]);
    const percentUsed = Number((usage * 10000n) / includedUnits) / 100;
    const title = `Usage alert: ${alert.name}`;
    const body =
      `${alert.resource_type}${alert.app_id === null ? '' : ` of ${alert.app_id}`} reached ${usage} of ` +
      `${includedUnits} included units (${percentUsed}%, threshold ${alert.threshold_percent}%) in the period ` +
      `${toRfc3339(periodStart)} to ${toRfc3339(periodEnd)}.`;
    const event = {
      type: 'usage_alert.triggered',
      timestamp: toRfc3339(now),
      data: {
        alert_id: alert.id,
        tenant_id: scope.tenantId,
        app_id: alert.app_id,
        name: alert.name,
        resource_type: alert.resource_type,
        threshold_percent: alert.threshold_percent,
        usage: Number(usage),
        included_units: Number(includedUnits),
        percent_used: percentUsed,
        period_start: toRfc3339(periodStart),
        period_end: toRfc3339(periodEnd),
      },
    };
    for (const channel of parseChannels(alert.notification_channels)) {
      if (channel === 'in_app') {
        await trx
          .insertInto('notifications')
          .values({
            tenant_id: scope.tenantId,
            id: newId('notification'),
            alert_id: alert.id,
            title,
            body,
            created_at: now,
          })
          .execute();
        continue;
      }
      const destination = channel === 'email' ? alert.email_recipients : alert.webhook_url;
      if (destination === null) continue;
      const signingSecret = channel === 'webhook' ? alert.webhook_secret : null;
      await trx
        .insertInto('notification_outbox')
        .values({
          tenant_id: scope.tenantId,
          id: newId('outboxMessage'),
          alert_id: alert.id,
          signing_secret: signingSecret,
          channel,
          destination,
          subject: title,
          payload: JSON.stringify(channel === 'email' ? { text: body, event } : event),
          status: 'pending',
          next_attempt_at: now,
          last_error: null,
          created_at: now,
          sent_at: null,
        })
        .execute();
    }
    return true;
  });
