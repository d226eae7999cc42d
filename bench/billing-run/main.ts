/**
 * Billing-run throughput: monthly renewals (invoice + period + collection + metering opened) and
 * the metered-overage close three days later, per subscription, against the bare inserts a renewal
 * must at least make.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=billing-run [--quick]
 *
 * Creates a fresh migrated database on that server (as the tests do) and keeps it as a template:
 * two metered plans made through the service (createPlan), then, loaded in bulk with unnest
 * INSERTs that go through every constraint and trigger of the schema, one tenant per subscription
 * (a tenant has at most one live subscription: the partial unique index subscriptions_one_live),
 * each with an app, an active monthly subscription in its 4th period whose end falls in the 20
 * hours before the run's as_of, that period's paid invoice (record, line, history, invoice
 * number INV-2026-001, its sequence row), the period row and the subscription's history, and
 * three days of usage rollups (api_requests, storage_used, user_count) inside the period. Payment
 * mix: 30% manual with a credit balance that pays everything (posted with ledger_post), 10% a
 * small balance that pays part and sandbox_success the rest, 50% sandbox_success, 10% manual and
 * no balance (their renewal stays unpaid: past due). Each step then runs on its own clone.
 *   - baseline:  the renewal's billing records, lines and period rows inserted directly, multi-row
 *                INSERTs, one transaction per 1,000 subscriptions (statements built untimed); then,
 *                the same way, the usage close's overage invoices and their lines
 *   - renewal:   runBilling(db, as_of) with 1 and then 4 concurrent runners (a pool of as many
 *                connections); the 1-runner step is profiled by a Kysely plugin that counts and
 *                times every statement
 *   - close:     on the 1-runner clone, runBilling(db, as_of + 3 days): every metered period's
 *                late-event window is over, overage is invoiced (plus the past-due subscriptions'
 *                payment retries that fall in those 3 days)
 * After each run it checks, and throws on any difference: every subscription advanced exactly one
 * period (index, start = old end, two contiguous period rows), one subscription record per
 * period, invoice numbers gapless per tenant (1..last_seq of invoice_sequences), the expected
 * statuses, payments and overage invoices (recomputed here from the seeded rollups with the
 * service's own pricing), and a second run as of the same time does nothing.
 * Prints tables, writes bench/results/billing-run.json and drops every database it made.
 *
 * The subscriptions are workload.ts, the template load load.ts and load-subscriptions.ts, the
 * baseline baseline.ts, a run timed-run.ts (profiled by profile.ts), the checks verify.ts, the
 * steps steps.ts and the tables report.ts.
 *
 * Default 100,000 subscriptions with 1 and 4 runners, ~6 minutes on 2 idle cores (`npm run bench`
 * runs 4 only, ~4 minutes); `--quick`: 2,000, well under a minute. Knobs (optional):
 * BENCH_SUBSCRIPTIONS, BENCH_RUNNERS=1,4 (the first count is also the one the usage close runs
 * with), BENCH_SEED=20260315, BENCH_PROFILE=0 (no statement profile).
 */
import { announce } from '../lib/scenario.js';
import { createServerDatabase } from '../lib/server.js';
import { fmt } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';
import { quick, runnerCounts, seed, serverUrl, subscriptionCount } from './config.js';
import { prepareTemplate } from './load.js';
import { report, type Outcome } from './report.js';
import { baselineStep, runnerStep } from './steps.js';
import type { RunResult } from './timed-run.js';
import { expectationsOf } from './verify.js';
import { dayMs, generateTenants, iso, minuteMs } from './workload.js';

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const { facts, loadAtStart } = await announce(
    serverUrl,
    `${subscriptionCount} subscriptions (one per tenant), runners ${runnerCounts.join(', ')}, seed ${seed}` +
      (quick ? ' (--quick)' : ''),
  );

  const tenants = generateTenants(subscriptionCount);
  const expect = expectationsOf(tenants);
  const renewalAsOf = new Date(Math.max(...tenants.map((t) => t.calendar.end.getTime())) + minuteMs);
  const closeAsOf = new Date(renewalAsOf.getTime() + 3 * dayMs);
  console.log(
    `renewal as of ${iso(renewalAsOf)}, usage close as of ${iso(closeAsOf)}; expected: ${expect.unpaid} left unpaid, ` +
      `${expect.usageRecords} overage invoices with ${expect.usageLines} lines`,
  );

  const template = await createServerDatabase();
  let outcome: Outcome;
  try {
    const load = await prepareTemplate(template.database, template.url, tenants);
    const { baseline, closeBaseline } = await baselineStep(template.name, tenants, closeAsOf);
    const renewals: RunResult[] = [];
    let close: RunResult | undefined;
    const verified: Record<string, unknown> = {};
    for (const runners of runnerCounts) {
      const step = await runnerStep({ templateName: template.name, runners, expect, renewalAsOf, closeAsOf });
      renewals.push(step.renewal);
      close = step.close ?? close;
      Object.assign(verified, step.verified);
    }
    outcome = {
      facts,
      loadAtStart,
      renewalAsOf,
      closeAsOf,
      load,
      expect,
      baseline,
      closeBaseline,
      renewals,
      close,
      verified,
    };
  } finally {
    await template.database.destroy();
  }

  const out = report(outcome);
  console.log(`figures written to ${out}`);
  console.log(`total run time: ${fmt(elapsed.seconds(), 1)} s`);
};

await main();
