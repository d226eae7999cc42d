import { addCalendarDays } from '../../core/billing-calendar.js';
import type { DbTransaction } from '../../db/database.js';
import { eventRow } from '../events/record-event.js';
import { insertEvents } from '../events/repository.js';
import { markTrialWillEndSent, type TrialReminderCandidates } from './repository.js';
import { toSubscriptionView } from './view.js';

/** Calendar days before a trial's end that `subscription.trial_will_end` is due (Stripe's three). */
export const trialReminderDays = 3;

/**
 * When a trial from `start` to `trialEnd` is told it will end: three calendar days before (in the
 * tenant's time zone), or at its start when it is shorter than that.
 */
export const trialWillEndAt = (start: Date, trialEnd: Date, timeZone: string): Date => {
  const reminder = addCalendarDays(trialEnd, -trialReminderDays, timeZone);
  return reminder > start ? reminder : start;
};

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One batch of `subscription.trial_will_end`: up to `limit` trialing subscriptions whose reminder
 * is due by `asOf` are marked (once per trial) and their events written in one statement, each
 * dated at its due time (before the trial's end, whenever it is found) with the subscription as
 * the API shows it. Subscriptions another transaction holds are skipped, so concurrent callers
 * write each event once. A trial canceled before its reminder is due is no longer trialing: none.
 */
export const sendTrialReminderBatch = async (
  trx: DbTransaction,
  candidates: TrialReminderCandidates,
): Promise<number> => {
  const marked = await markTrialWillEndSent(trx, candidates);
  marked.sort((a, b) => byText(a.tenant_id, b.tenant_id) || byText(a.id, b.id));
  await insertEvents(
    trx,
    marked.flatMap((sub) =>
      sub.trial_will_end_sent_at === null
        ? []
        : [
            eventRow(
              { tenantId: sub.tenant_id },
              { type: 'subscription.trial_will_end', at: sub.trial_will_end_sent_at, data: toSubscriptionView(sub) },
            ),
          ],
    ),
  );
  return marked.length;
};
