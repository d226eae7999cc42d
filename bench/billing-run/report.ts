import { writeResults, type Headline } from '../lib/results.js';
import { fmt, plural, table } from '../lib/table.js';
import { resultsName, runnerCounts, seed, subscriptionCount } from './config.js';
import type { BaselineResult } from './baseline.js';
import type { RunResult } from './timed-run.js';
import { iso } from './workload.js';
import type { Expectations } from './verify.js';

const profileTable = (rows: NonNullable<RunResult['profile']>, result: RunResult): string => {
  // Statement times are per runner: with several runners they add up to runners × wall time.
  const runnerMs = result.seconds * 1000 * result.runners;
  const totalMs = rows.reduce((sum, row) => sum + row.ms, 0);
  const perSub = rows.reduce((sum, row) => sum + row.perSubscription, 0);
  const share = (ms: number) => `${fmt((ms / runnerMs) * 100, 1)}%`;
  // Every transaction starts by locking its batch: a begin and a commit each.
  const transactions = rows.find((row) => row.label.includes('skip locked'))?.count ?? 0;
  return table(
    ['statement', 'count', 'per sub', 'ms total', 'ms per sub', '% of runner time'],
    [
      ...rows.map((row) => [
        row.label,
        String(row.count),
        fmt(row.perSubscription, 2),
        String(row.ms),
        fmt(row.msPerSubscription, 3),
        share(row.ms),
      ]),
      [
        'all Kysely statements',
        String(rows.reduce((sum, row) => sum + row.count, 0)),
        fmt(perSub, 2),
        String(totalMs),
        fmt(totalMs / result.subscriptions, 3),
        share(totalMs),
      ],
      [
        '+ begin/commit and Node between statements',
        String(2 * transactions),
        fmt((2 * transactions) / result.subscriptions, 2),
        String(Math.round(runnerMs - totalMs)),
        fmt((runnerMs - totalMs) / result.subscriptions, 3),
        share(runnerMs - totalMs),
      ],
    ],
  );
};

export interface Outcome {
  facts: Record<string, string>;
  loadAtStart: number[];
  renewalAsOf: Date;
  closeAsOf: Date;
  load: { seconds: number; steps: Record<string, number>; databaseSize: string };
  expect: Expectations;
  baseline: BaselineResult | undefined;
  closeBaseline: { seconds: number; rows: number } | undefined;
  renewals: RunResult[];
  close: RunResult | undefined;
  verified: Record<string, unknown>;
}

/** Prints the summary and the statement profiles and writes the results file; its path. */
export const report = (outcome: Outcome): string => {
  const { expect, baseline, closeBaseline, renewals, close } = outcome;
  const ratio = (perSecond: number) => `${fmt(perSecond / (baseline?.subscriptionsPerSecond ?? Number.NaN), 3)}x`;
  const summaryRows = [
    [
      'baseline: records + lines + periods, multi-row INSERT, 1 tx / 1,000',
      '1',
      fmt(baseline?.seconds, 2),
      `${fmt(baseline?.rowsPerSecond)} rows/s`,
      fmt(baseline?.subscriptionsPerSecond),
      '1.000x',
      '-',
    ],
    ...renewals.map((r) => [
      `renewal: runBilling as of the period ends${r.profile === undefined ? '' : ' (profiled)'}`,
      String(r.runners),
      fmt(r.seconds, 2),
      `${fmt(r.perSecond * 3)} rows/s*`,
      fmt(r.perSecond),
      ratio(r.perSecond),
      fmt(r.nodeCores, 2),
    ]),
    ...(close === undefined
      ? []
      : [
          [
            `usage close: runBilling as of + 3 days${close.profile === undefined ? '' : ' (profiled)'}`,
            String(close.runners),
            fmt(close.seconds, 2),
            '-',
            fmt(close.perSecond),
            '-',
            fmt(close.nodeCores, 2),
          ],
        ]),
  ];
  console.log(
    `\n${table(['step', 'runners', 'seconds', 'rows/s', 'subscriptions/s', 'vs baseline', 'node cores'], summaryRows)}\n` +
      `(${subscriptionCount} subscriptions; * the same 3 rows per renewal as the baseline, the run writes more)\n`,
  );
  const profiled = renewals.find((r) => r.profile !== undefined);
  if (profiled?.profile !== undefined) {
    console.log(
      `renewal, statements per subscription (${plural(profiled.runners, 'runner')}):\n${profileTable(profiled.profile, profiled)}\n`,
    );
  }
  if (close?.profile !== undefined) {
    console.log(
      `usage close, statements per subscription (${plural(close.runners, 'runner')}):\n${profileTable(close.profile, close)}\n`,
    );
  }

  const headlines: Headline[] = [
    ...renewals.map((r): Headline => ({
      measure: `renew and invoice ${subscriptionCount.toLocaleString('en')} subscriptions, ${plural(r.runners, 'runner')}`,
      value: r.seconds,
      unit: 's',
      better: 'lower',
      note: `${fmt(r.perSecond)} subs/s`,
      baseline: {
        what: 'their records, lines and periods inserted directly',
        value: baseline?.seconds ?? Number.NaN,
      },
    })),
    ...(close === undefined
      ? []
      : [
          {
            measure: `invoice their metered usage 3 days later, ${plural(close.runners, 'runner')}`,
            value: close.seconds,
            unit: 's',
            better: 'lower' as const,
            note: `${fmt(close.perSecond)} subs/s, ${expect.usageRecords.toLocaleString('en')} overage invoices`,
            baseline: {
              what: 'the overage invoices and lines inserted directly',
              value: closeBaseline?.seconds ?? Number.NaN,
            },
          },
        ]),
  ];
  const out = writeResults(resultsName, outcome.loadAtStart, headlines, {
    server: outcome.facts,
    subscriptions: subscriptionCount,
    tenants: subscriptionCount,
    runnerCounts,
    seed,
    renewalAsOf: iso(outcome.renewalAsOf),
    closeAsOf: iso(outcome.closeAsOf),
    load: outcome.load,
    expected: {
      unpaid: expect.unpaid,
      usageRecords: expect.usageRecords,
      usageLines: expect.usageLines,
      usageTotal: expect.usageTotal.toString(),
    },
    baseline,
    closeBaseline,
    renewals,
    close,
    verified: outcome.verified,
  });
  return out;
};
