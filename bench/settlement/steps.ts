import { defaultPoolConfig, openDatabase } from '../../src/db/database.js';
import { settlePayg, type SettlementSummary } from '../../src/modules/payg/settle-payg.js';
import { loadAverages } from '../lib/cpu.js';
import { withClient, withClone } from '../lib/server.js';
import { writeBaseline, type BaselinePhases } from './baseline.js';
import { clock, serverUrl } from './config.js';
import type { ExpectedDay } from './expected.js';
import { profileStatements, type StatementTime } from './profile.js';
import { countRows, rowTotal, verify, type Verified } from './verify.js';
import { measured, seqScanStats, type Autoanalyze, type SessionShare, type Timing } from './watch.js';

/** The steps, each on its own copy of the template: the baseline, and settlePayg with N runners. */

export interface StepResult {
  step: string;
  runners: number;
  seconds: number;
  tenantDays: number;
  lines: number;
  rows: number;
  linesPerSecond: number;
  rowsPerSecond: number;
  msPerTenantDay: number;
  nodeCores: number;
  machineBusy: number;
  loadAverage: number[];
  /** Cluster-wide WAL written during the step, per tenant-day. */
  walBytesPerTenantDay: number;
  walSyncsPerTenantDay: number;
  /** What the step's server sessions were doing, as shares of samples taken every 50 ms. */
  sessions: SessionShare[];
  /** The autovacuum stand-in's analyzes during the step. */
  autoanalyze: Autoanalyze;
  /** Sequential scans of the written tables during the step. */
  seqScans?: Record<string, { scans: number; tuplesRead: number }>;
  /** settlePayg run again on the settled copy: how long it took (it must settle nothing). */
  secondRunSeconds?: number;
  /** Tenant-days each runner settled. */
  perRunner?: number[];
  profile?: StatementTime[];
  /** Baseline only: where its time went (ledger_post calls in bulk, the other INSERTs, commits). */
  baselinePhases?: {
    ledgerPostSeconds: number;
    ledgerPostMsEach: number;
    insertSeconds: number;
    commitSeconds: number;
  };
  verified: Verified;
}

const stepResult = ({
  step,
  runners,
  timing,
  verified,
  tenantDays,
}: {
  step: string;
  runners: number;
  timing: Timing;
  verified: Verified;
  tenantDays: number;
}): StepResult => ({
  step,
  runners,
  seconds: Number(timing.seconds.toFixed(2)),
  tenantDays,
  lines: verified.rows.lines,
  rows: rowTotal(verified.rows),
  linesPerSecond: Math.round(verified.rows.lines / timing.seconds),
  rowsPerSecond: Math.round(rowTotal(verified.rows) / timing.seconds),
  msPerTenantDay: Number(((timing.seconds * 1000) / tenantDays).toFixed(2)),
  nodeCores: timing.nodeCores,
  machineBusy: timing.machineBusy,
  loadAverage: loadAverages(),
  walBytesPerTenantDay: Math.round(timing.wal.bytes / tenantDays),
  walSyncsPerTenantDay: Number((timing.wal.syncs / tenantDays).toFixed(2)),
  sessions: timing.sessions,
  autoanalyze: timing.autoanalyze,
  verified,
});

export const runBaseline = (templateName: string, days: ExpectedDay[]): Promise<StepResult> =>
  withClone(serverUrl, templateName, `${templateName}_baseline`, async (url) => {
    let phases: BaselinePhases = { ledgerPostMs: 0, insertMs: 0, commitMs: 0 };
    const timing = await measured(url, async () => {
      phases = await withClient(url, (client) => writeBaseline(client, days));
    });
    const seqScans = await seqScanStats(url);
    const verified = await verify(url, 'baseline', days);
    const postings = verified.rows.ledgerTransactions;
    return {
      ...stepResult({ step: 'baseline', runners: 1, timing, verified, tenantDays: days.length }),
      seqScans,
      baselinePhases: {
        ledgerPostSeconds: Number((phases.ledgerPostMs / 1000).toFixed(2)),
        ledgerPostMsEach: Number((phases.ledgerPostMs / Math.max(1, postings)).toFixed(3)),
        insertSeconds: Number((phases.insertMs / 1000).toFixed(2)),
        commitSeconds: Number((phases.commitMs / 1000).toFixed(2)),
      },
    };
  });

export const runSettlement = (templateName: string, runners: number, days: ExpectedDay[]): Promise<StepResult> =>
  withClone(serverUrl, templateName, `${templateName}_settle_r${runners}`, async (url) => {
    const open = () => openDatabase({ kind: 'server', url, pool: { ...defaultPoolConfig, max: runners } });
    let summaries: SettlementSummary[] = [];
    let profile: StatementTime[] | undefined;
    const handle = await open();
    let timing: Timing;
    try {
      // Opens every connection of the pool before the clock starts.
      await Promise.all(Array.from({ length: runners }, () => handle.ping()));
      // The one-runner step times each statement of the run itself (not the WAL reads around it).
      timing = await measured(url, async () => {
        const profiler = runners === 1 ? profileStatements() : undefined;
        try {
          summaries = await Promise.all(Array.from({ length: runners }, () => settlePayg(handle.db, clock)));
        } finally {
          profile = profiler?.stop();
        }
      });
    } finally {
      await handle.close();
    }
    const failures = summaries.flatMap((s) => s.failures);
    const settled = summaries.reduce((sum, s) => sum + s.days, 0);
    if (failures.length > 0 || settled !== days.length) {
      throw new Error(
        `settle r${runners}: ${settled} tenant-days settled (expected ${days.length}), ` +
          `${failures.length} failures: ${JSON.stringify(failures.slice(0, 5))}`,
      );
    }
    const seqScans = await seqScanStats(url);
    const settledRows = await withClient(url, countRows);

    // A second run (a later scheduler pass) finds every day settled: it must settle and write nothing.
    let again: SettlementSummary = { days: 0, failures: [] };
    const secondHandle = await open();
    let second: Timing;
    try {
      second = await measured(url, async () => {
        again = await settlePayg(secondHandle.db, clock);
      });
    } finally {
      await secondHandle.close();
    }
    const rowsAfter = await withClient(url, countRows);
    if (again.days !== 0 || again.failures.length > 0 || JSON.stringify(rowsAfter) !== JSON.stringify(settledRows)) {
      throw new Error(
        `settle r${runners}: a second run settled ${again.days} days with ${again.failures.length} failures ` +
          `and took rows from ${JSON.stringify(settledRows)} to ${JSON.stringify(rowsAfter)}`,
      );
    }
    const verified = await verify(url, `settle r${runners}`, days);
    return {
      ...stepResult({ step: `settle r${runners}`, runners, timing, verified, tenantDays: days.length }),
      seqScans,
      secondRunSeconds: Number(second.seconds.toFixed(2)),
      perRunner: summaries.map((s) => s.days),
      ...(profile === undefined ? {} : { profile }),
    };
  });
