import { writeResults, type Headline } from '../lib/results.js';
import { fmt, plural, table } from '../lib/table.js';
import { autoanalyzeSeconds, clock, quick, resultsName, seed, settledDay } from './config.js';
import type { StepResult } from './steps.js';

/** Prints the step, session and statement tables and writes the results file; its path. */
export const report = (
  results: StepResult[],
  {
    facts,
    loadAtStart,
    loadSeconds,
    workload,
  }: { facts: Record<string, string>; loadAtStart: number[]; loadSeconds: number; workload: Record<string, unknown> },
): string => {
  const baseline = results.find((r) => r.step === 'baseline');
  const ratio = (r: StepResult): string => `${fmt(r.rowsPerSecond / (baseline?.rowsPerSecond ?? Number.NaN), 3)}x`;
  console.log(
    `\n${table(
      [
        'step',
        'seconds',
        'lines/s',
        'rows/s',
        'vs baseline',
        'ms/tenant-day',
        'WAL KB/tenant-day',
        'WAL syncs/tenant-day',
        'node cores',
        'machine busy',
        'load 1m',
        'analyzes',
        'seq-scanned tuples',
        'second run s',
      ],
      results.map((r) => [
        r.step === 'baseline' ? 'baseline: direct INSERTs + ledger_post' : `settlePayg, ${r.runners} runner(s)`,
        fmt(r.seconds, 2),
        fmt(r.linesPerSecond),
        fmt(r.rowsPerSecond),
        ratio(r),
        fmt(r.msPerTenantDay, 2),
        fmt(r.walBytesPerTenantDay / 1024, 1),
        fmt(r.walSyncsPerTenantDay, 2),
        fmt(r.nodeCores, 2),
        `${fmt(r.machineBusy * 100)}%`,
        String(r.loadAverage[0]),
        String(r.autoanalyze.runs),
        fmt(Object.values(r.seqScans ?? {}).reduce((sum, t) => sum + t.tuplesRead, 0)),
        r.secondRunSeconds === undefined ? '' : fmt(r.secondRunSeconds, 2),
      ]),
    )}\n(${baseline?.rows ?? '-'} rows per step: ${JSON.stringify(baseline?.verified.rows)}; ` +
      `WAL is cluster-wide; analyzes: the autovacuum stand-in's, ` +
      `${autoanalyzeSeconds > 0 ? `checked every ${autoanalyzeSeconds} s` : 'off'}; ` +
      `seq-scanned tuples: of the tables settlement writes)\n`,
  );
  const states = [...new Set(results.flatMap((r) => r.sessions.map((session) => session.state)))];
  console.log(
    `${table(
      ['server sessions of the step (share of samples)', ...results.map((r) => r.step)],
      states.map((state) => [
        state,
        ...results.map((r) => `${fmt(100 * (r.sessions.find((x) => x.state === state)?.share ?? 0), 1)}%`),
      ]),
    )}\n(every 50 ms, all sessions of the step's database; "on CPU or runnable" includes waiting for a core)\n`,
  );
  const profiled = results.find((r) => r.profile !== undefined);
  if (profiled?.profile !== undefined) {
    const totalMs = profiled.seconds * 1000;
    const statementMs = profiled.profile.reduce((sum, s) => sum + s.ms, 0);
    console.log(
      `${table(
        ['statement (settlePayg, 1 runner)', 'count', 'per tenant-day', 'total s', 'share', 'mean ms'],
        [
          ...profiled.profile.map((s) => [
            s.kind,
            String(s.count),
            fmt(s.count / profiled.tenantDays, 1),
            fmt(s.ms / 1000, 2),
            `${fmt((100 * s.ms) / totalMs, 1)}%`,
            fmt(s.ms / s.count, 3),
          ]),
          [
            'all statements',
            String(profiled.profile.reduce((sum, s) => sum + s.count, 0)),
            fmt(profiled.profile.reduce((sum, s) => sum + s.count, 0) / profiled.tenantDays, 1),
            fmt(statementMs / 1000, 2),
            `${fmt((100 * statementMs) / totalMs, 1)}%`,
            '',
          ],
          [
            'between statements (JS, pool)',
            '',
            '',
            fmt((totalMs - statementMs) / 1000, 2),
            `${fmt((100 * (totalMs - statementMs)) / totalMs, 1)}%`,
            '',
          ],
        ],
      )}\n(round trips as the driver sees them: network, server work, result parsing)\n`,
    );
  }

  const headlines: Headline[] = results
    .filter((r) => r !== baseline)
    .map((r) => ({
      measure: `settle ${r.lines.toLocaleString('en')} lines of one day, ${plural(r.runners, 'runner')}`,
      value: r.seconds,
      unit: 's',
      better: 'lower',
      note: `${fmt(r.linesPerSecond)} lines/s`,
      baseline: { what: 'the same rows written directly', value: baseline?.seconds ?? Number.NaN },
    }));
  const out = writeResults(resultsName, loadAtStart, headlines, {
    server: facts,
    quick,
    seed,
    autoanalyzeSeconds,
    settledDay,
    clock: clock.now().toISOString(),
    workload,
    loadSeconds: Number(loadSeconds.toFixed(1)),
    steps: results,
  });
  return out;
};
