/**
 * Pay-as-you-go daily settlement throughput: settlement lines per second through settlePayg, against
 * the same rows inserted directly.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=settlement [--quick]
 *
 * Creates a fresh migrated database on that server (as the tests do) and loads one day of
 * consumption into it with multi-row INSERTs (every constraint and trigger in force): 5,000
 * tenants × 4 apps × 5 pay-as-you-go products in usage_daily (plus two metered resources per app
 * that settlement must ignore) = 100,000 settlement lines, and the tenants' instruments — coupons
 * (some scoped to products, some expired or not yet valid, some ending during the day), stored-value
 * cards, cash (a promo credit) and cloud-marketplace balances — each issued through ledger_post, as
 * the service does. Most tenants can pay their day, about a third cannot (owed → a `payg` record),
 * a few hold nothing. Each tenant is created during the settled day (2026-01-14 in its own time
 * zone, one of six) and the clock stands on the next day in every one of them, so settlePayg
 * settles exactly that one day per tenant. The database is kept as a template; every step runs
 * on its own copy:
 *   - baseline: the rows settlement writes for that day, computed beforehand from the spec (untimed)
 *               and inserted directly in transactions of 500 tenants: the ledger postings as one
 *               ledger_post call per deduction in a single statement over a VALUES list, then
 *               records, their lines, history and invoice counters, markers, lines and deductions
 *               as multi-row INSERTs
 *   - settle rN: N concurrent settlePayg runners (1, 2, 4) sharing a pool of N connections; the
 *               one-runner step also attributes the time to each kind of statement (every round
 *               trip timed, begin and commit included); then settlePayg again on a fresh pool
 * Every step also samples what its server sessions are doing (every 50 ms), counts sequential scans
 * of the tables settlement writes, and runs a stand-in for autovacuum's analyze, which this server
 * has off (conf.d/90-ci.conf): without it a session caches the foreign-key checks' plans made
 * while payg_settlement_lines and payg_settlements were empty — sequential scans — and the run
 * turns quadratic (5,000 tenants: ~270 s instead of ~60 s with one runner).
 * After each step the copy is checked, and any difference throws: each tenant-day settled once
 * (one marker per tenant, summaries adding up), a line per consumed (app, product) at its count
 * and price, for every line deductions + owed = billing_result and each kind's column the sum of
 * that kind's deductions, each deduction a payg_deduction debit of its amount out of its
 * instrument's account, every instrument balance never below zero and equal to issued − deducted
 * (cash: promo − deducted), each owed day one pending record for the owed sum, and every line and
 * deduction (amounts and order) as computed from the spec beforehand. Then settlePayg runs again
 * (timed): it must settle nothing and write nothing. Prints tables, writes
 * bench/results/payg-settlement.json (payg-settlement-quick.json with --quick, another suffix for
 * other knobs) and drops every database it made.
 *
 * The day is workload.ts, what settlement must write expected.ts, the template load load.ts, the
 * baseline baseline.ts, the steps steps.ts (watched by watch.ts, profiled by profile.ts), the
 * checks verify.ts and the tables report.ts.
 *
 * --quick: 100 tenants (2,000 lines). Knobs (optional):
 * BENCH_TENANTS=5000, BENCH_RUNNERS=1,2,4, BENCH_SEED=20260114, BENCH_AUTOANALYZE_SECONDS=2 (0: off).
 */
import { createProduct } from '../../src/modules/payg/products.js';
import { seededRandom } from '../lib/random.js';
import { announce } from '../lib/scenario.js';
import { createServerDatabase } from '../lib/server.js';
import { fmt } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';
import {
  appsPerTenant,
  autoanalyzeSeconds,
  clock,
  meteredResources,
  products,
  quick,
  runnerCounts,
  seed,
  serverUrl,
  settledDay,
  tenantCount,
} from './config.js';
import { expectedDay } from './expected.js';
import { loadTemplate } from './load.js';
import { report } from './report.js';
import { runBaseline, runSettlement, type StepResult } from './steps.js';
import { generateTenant } from './workload.js';

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const lineCount = tenantCount * appsPerTenant * products.length;
  const { facts, loadAtStart } = await announce(
    serverUrl,
    `${tenantCount} tenants × ${appsPerTenant} apps × ${products.length} products = ${lineCount} lines on ` +
      `${settledDay}, runners ${runnerCounts.join(', ')}, seed ${seed}${quick ? ' (quick)' : ''}, autovacuum stand-in ` +
      `${autoanalyzeSeconds > 0 ? `every ${autoanalyzeSeconds} s` : 'off'}`,
  );

  const generating = stopwatch();
  const random = seededRandom(seed);
  const tenants = Array.from({ length: tenantCount }, (_, index) => generateTenant(random, index));
  const days = tenants.map(expectedDay);
  const deductionCount = days.reduce((sum, d) => sum + d.lines.reduce((n, line) => n + line.deductions.length, 0), 0);
  const workload = {
    tenants: tenantCount,
    lines: lineCount,
    usageDailyRows: lineCount + tenantCount * appsPerTenant * meteredResources.length,
    instruments: Object.fromEntries(
      (['coupon', 'stored_card', 'cloud_marketplace'] as const).map((kind) => [
        kind,
        tenants.reduce((n, t) => n + t.instruments.filter((i) => i.kind === kind).length, 0),
      ]),
    ),
    tenantsWithCash: tenants.filter((t) => t.cash > 0n).length,
    funding: Object.fromEntries(
      (['none', 'short', 'covered'] as const).map((f) => [f, tenants.filter((t) => t.funding === f).length]),
    ),
    deductions: deductionCount,
    owedLines: days.reduce((sum, d) => sum + d.lines.filter((line) => line.owed > 0n).length, 0),
    owedDays: days.filter((d) => d.record !== null).length,
  };
  console.log(
    `workload generated in ${fmt(generating.seconds(), 1)} s: ${workload.deductions} deductions, ` +
      `${workload.owedLines} owed lines on ${workload.owedDays} owed days, instruments ${JSON.stringify(workload.instruments)}, ` +
      `${workload.tenantsWithCash} tenants with cash`,
  );

  const template = await createServerDatabase();
  const results: StepResult[] = [];
  let loadSeconds = Number.NaN;
  try {
    const loading = stopwatch();
    for (const product of products) {
      const created = await createProduct(template.database.db, clock, {
        billing_key: product.billingKey,
        display_name: product.displayName,
        unit_price: product.unitPrice,
        billing_cycle: 'Day',
        category: 'pay-as-you-go',
      });
      if (!created.ok) throw new Error(`product ${product.billingKey}: ${created.error.message}`);
    }
    // A database is cloned only while nobody is connected to it.
    await template.database.close();
    await loadTemplate(template.url, tenants);
    loadSeconds = loading.seconds();
    console.log(`template loaded in ${fmt(loadSeconds, 1)} s`);

    const baseline = await runBaseline(template.name, days);
    results.push(baseline);
    console.log(
      `  baseline   ${fmt(baseline.seconds, 2)} s, ${fmt(baseline.rowsPerSecond)} rows/s, ` +
        `${fmt(baseline.linesPerSecond)} lines/s (${baseline.rows} rows; checked); ledger_post ` +
        `${fmt(baseline.baselinePhases?.ledgerPostSeconds ?? Number.NaN, 2)} s ` +
        `(${fmt(baseline.baselinePhases?.ledgerPostMsEach ?? Number.NaN, 3)} ms each), other INSERTs ` +
        `${fmt(baseline.baselinePhases?.insertSeconds ?? Number.NaN, 2)} s, commits ` +
        `${fmt(baseline.baselinePhases?.commitSeconds ?? Number.NaN, 2)} s`,
    );
    for (const runners of runnerCounts) {
      const result = await runSettlement(template.name, runners, days);
      results.push(result);
      console.log(
        `  settle r${runners}  ${fmt(result.seconds, 1)} s, ${fmt(result.linesPerSecond)} lines/s, ` +
          `${fmt(result.msPerTenantDay, 2)} ms per tenant-day, node ${fmt(result.nodeCores, 2)} cores, machine ` +
          `${fmt(result.machineBusy * 100)}% busy, load ${result.loadAverage[0]}; per runner ` +
          `${result.perRunner?.join('/')}; second run ${fmt(result.secondRunSeconds ?? Number.NaN, 1)} s, settled nothing; checked`,
      );
    }
  } finally {
    await template.database.destroy();
  }

  const out = report(results, { facts, loadAtStart, loadSeconds, workload });
  console.log(`figures written to ${out}`);
  console.log(`total run time: ${fmt(elapsed.seconds(), 1)} s`);
};

await main();
