import { defaultPoolConfig, openDatabase } from '../../src/db/database.js';
import { withClient, withClone } from '../lib/server.js';
import { fmt } from '../lib/table.js';
import { runBaseline, runCloseBaseline, type BaselineResult } from './baseline.js';
import { profiling, runnerCounts, serverUrl, subscriptionCount } from './config.js';
import { StatementProfile } from './profile.js';
import { timedRun, type RunResult } from './timed-run.js';
import { checkSecondRun, verifyClose, verifyRenewal, type Expectations } from './verify.js';
import type { BenchTenant } from './workload.js';

/** The scenario's steps, each on its own clone of the template. */

/** The bare inserts of the renewal, then of the usage close. */
export const baselineStep = (templateName: string, tenants: BenchTenant[], closeAsOf: Date) =>
  withClone(serverUrl, templateName, `${templateName}_baseline`, async (url) => {
    const baseline: BaselineResult = await runBaseline(url, tenants);
    const closeBaseline = await runCloseBaseline(url, tenants, closeAsOf);
    console.log(
      `  baseline      ${fmt(baseline.rowsPerSecond).padStart(7)} rows/s = ${fmt(baseline.subscriptionsPerSecond)} renewals/s ` +
        `(${baseline.rows} rows in ${baseline.seconds} s, ${baseline.transactions} transactions); ` +
        `round trip ${baseline.roundTripMs} ms, autocommit insert ${baseline.commitMs} ms; ` +
        `overage invoices and lines ${closeBaseline.rows} rows in ${closeBaseline.seconds} s`,
    );
    return { baseline, closeBaseline };
  });

export interface RunnerStep {
  renewal: RunResult;
  /** The usage close, run after the renewal by the first runner count only. */
  close?: RunResult;
  verified: Record<string, unknown>;
}

export interface RunnerStepArgs {
  templateName: string;
  runners: number;
  expect: Expectations;
  renewalAsOf: Date;
  closeAsOf: Date;
}

/**
 * runBilling with `runners` concurrent runners as of the period ends, checked, then a second run;
 * for the first runner count (profiled unless BENCH_PROFILE=0) also the usage close 3 days later.
 */
export const runnerStep = ({
  templateName,
  runners,
  expect,
  renewalAsOf,
  closeAsOf,
}: RunnerStepArgs): Promise<RunnerStep> =>
  withClone(serverUrl, templateName, `${templateName}_r${runners}`, async (url) => {
    const handle = await openDatabase({ kind: 'server', url, pool: { ...defaultPoolConfig, max: runners } });
    try {
      const verified: Record<string, unknown> = {};
      const profile = profiling && runners === runnerCounts[0] ? new StatementProfile() : undefined;
      const renewal = await timedRun({
        handle,
        url,
        runners,
        asOf: renewalAsOf,
        expectedSubscriptions: subscriptionCount,
        profile,
      });
      if (renewal.steps.period_end !== subscriptionCount) {
        throw new Error(`expected ${subscriptionCount} period ends, the run did ${JSON.stringify(renewal.steps)}`);
      }
      verified[`renewal_r${runners}`] = await verifyRenewal(url, expect, renewalAsOf);
      renewal.secondRunMs = await checkSecondRun(handle, url, renewalAsOf, 'renewal');
      console.log(
        `  renewal   r${runners} ${fmt(renewal.perSecond).padStart(7)} subs/s  ${renewal.seconds} s` +
          `  (first/last fifth ${fmt(renewal.firstFifthPerSecond)}/${fmt(renewal.lastFifthPerSecond)} subs/s)` +
          `  node ${fmt(renewal.nodeCores, 2)} cores, machine ${fmt(renewal.machineBusy * 100)}% busy, load ${renewal.loadAverage[0]}` +
          `; verified, second run ${renewal.secondRunMs} ms did nothing`,
      );
      if (runners !== runnerCounts[0]) return { renewal, verified };

      await withClient(serverUrl, (client) => client.query('checkpoint'));
      const close = await timedRun({
        handle,
        url,
        runners,
        asOf: closeAsOf,
        expectedSubscriptions: subscriptionCount,
        profile,
      });
      if (close.steps.usage_close !== subscriptionCount) {
        throw new Error(`expected ${subscriptionCount} usage closes, the run did ${JSON.stringify(close.steps)}`);
      }
      verified.close = await verifyClose(url, expect, closeAsOf);
      close.secondRunMs = await checkSecondRun(handle, url, closeAsOf, 'usage close');
      console.log(
        `  usage close r${runners} ${fmt(close.perSecond).padStart(5)} subs/s  ${close.seconds} s` +
          `  steps ${JSON.stringify(close.steps)}` +
          `  node ${fmt(close.nodeCores, 2)} cores, machine ${fmt(close.machineBusy * 100)}% busy` +
          `; verified, second run ${close.secondRunMs} ms did nothing`,
      );
      return { renewal, close, verified };
    } finally {
      await handle.close();
    }
  });
