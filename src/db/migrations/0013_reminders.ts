import type { Kysely } from 'kysely';
import { executeStatements } from '../statements.js';

/**
 * The billing run's time-driven reminders (`subscription.trial_will_end`, `billing_record.overdue`).
 * - A tenant's payment terms: days after finalisation an invoice is due (Lago's net payment term,
 *   0 = due on receipt).
 * - A record's `due_at` is set when it is finalised (finalised time + the tenant's terms), so a
 *   change of terms never moves an issued invoice's due date; `overdue_at` marks the one time it
 *   was found unpaid after it (its event written then). Records finalised before this migration
 *   get the default terms: due when finalised.
 * - A trial's `trial_will_end_at` is when its reminder is due (three days before it ends, or at
 *   once for a shorter trial); `trial_will_end_sent_at` marks it written.
 * The partial indexes hold only what the run still has to look at.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `alter table tenants add column payment_terms_days integer not null default 0
       check (payment_terms_days between 0 and 365)`,
    `alter table billing_records add column due_at timestamptz, add column overdue_at timestamptz`,
    `update billing_records set due_at = finalized_at where finalized_at is not null`,
    `alter table billing_records
       add constraint billing_records_due_when_finalized check ((due_at is null) = (finalized_at is null)),
       add constraint billing_records_overdue_after_due check (overdue_at is null or overdue_at > due_at)`,
    `create index billing_records_awaiting_overdue on billing_records (due_at)
       where overdue_at is null and status in ('pending', 'failed')`,
    `alter table subscriptions add column trial_will_end_at timestamptz, add column trial_will_end_sent_at timestamptz`,
    `update subscriptions
        set trial_will_end_at = greatest(trial_end_date - interval '3 days', created_at)
      where trial_end_date is not null`,
    `alter table subscriptions
       add constraint subscriptions_trial_reminder check ((trial_will_end_at is null) = (trial_end_date is null))`,
    `create index subscriptions_awaiting_trial_will_end on subscriptions (trial_will_end_at)
       where status = 'trialing' and trial_will_end_sent_at is null`,
  ]);

export const down = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `alter table subscriptions drop column trial_will_end_sent_at, drop column trial_will_end_at`,
    `alter table billing_records drop column overdue_at, drop column due_at`,
    `alter table tenants drop column payment_terms_days`,
  ]);
