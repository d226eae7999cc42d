/**
 * Every benchmark scenario in one run, each against its baseline measured in the same run on the
 * same PostgreSQL:
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench [-- --quick] [-- --only search,export]
 *
 * Loads the shared volume (bench/lib/volume.ts) once for the scenarios that read it, runs each
 * scenario in its own Node process (a fresh heap, so the export's RSS is its own), prints every
 * scenario's own tables as it goes, then one summary table, and writes the whole run to
 * bench/results/bench.json (bench-quick.json with --quick, bench-only-<names>.json with --only).
 * A scenario that fails is reported in the summary and the exit code; the others still run.
 * `--quick` is a smoke run of a few minutes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadAverages } from './lib/cpu.js';
import { ratioOf, resultsFolder, type Headline } from './lib/results.js';
import { quickMode, requireServerUrl, serverFacts } from './lib/server.js';
import { fmt, table } from './lib/table.js';
import { stopwatch } from './lib/timing.js';
import { openVolume, type Volume } from './lib/volume.js';

interface ScenarioSpec {
  name: string;
  /** The scenario's entry, below bench/. */
  script: string;
  title: string;
  /** Reads (or writes into) the shared volume. */
  onVolume: boolean;
  /** Knobs for the whole run: the headline configuration only, so it fits 10 minutes. */
  env: Record<string, string>;
  /** Knobs for --quick on top of the scenario's own quick sizes: one configuration, a smoke run. */
  quickEnv?: Record<string, string>;
}

const scenarios: ScenarioSpec[] = [
  {
    name: 'search',
    script: 'search/main.ts',
    title: 'Filtered search, 1M-record tenant, 32 connections',
    onVolume: true,
    env: {},
  },
  {
    name: 'export',
    script: 'export/main.ts',
    title: 'Compliance export, ~1M rows',
    onVolume: true,
    // Default heap: V8 collects lazily, so the peak RSS overstates what the stream holds. Under
    // --max-old-space-size=64 (README, "Export") it stays flat, but the export takes 2.6× as long.
    env: {},
  },
  {
    name: 'ledger',
    script: 'ledger/main.ts',
    title: 'Ledger writes vs pgbench tpcb-like',
    onVolume: true,
    env: { BENCH_CLIENTS: '8', BENCH_SECONDS: '6', BENCH_PATHS: 'service,http' },
  },
  {
    name: 'usage',
    script: 'usage/main.ts',
    title: 'Usage ingestion, batches of 1,000',
    onVolume: false,
    env: { BENCH_CLIENTS: '8', BENCH_EVENTS: '100000', BENCH_PATHS: 'http' },
  },
  {
    name: 'metrics',
    script: 'metrics/main.ts',
    title: 'Usage ingestion into a unique_count metric (monthly active users) vs a sum metric',
    onVolume: false,
    env: {},
  },
  {
    name: 'billing-run',
    script: 'billing-run/main.ts',
    title: 'Billing run, 100k subscriptions with metered usage',
    onVolume: false,
    env: { BENCH_SUBSCRIPTIONS: '100000', BENCH_RUNNERS: '4', BENCH_PROFILE: '0' },
    quickEnv: { BENCH_SUBSCRIPTIONS: '500', BENCH_RUNNERS: '2' },
  },
  {
    name: 'events',
    script: 'events/main.ts',
    title: 'Billing events: webhook deliveries, and the billing run with and without events',
    onVolume: false,
    env: {},
  },
  {
    name: 'documents',
    script: 'documents/main.ts',
    title: 'Invoice documents: 20-line PDFs at 8 concurrent requests, one of 1,000 lines',
    onVolume: false,
    env: {},
  },
  {
    name: 'settlement',
    script: 'settlement/main.ts',
    title: 'Pay-as-you-go settlement, 100k lines',
    onVolume: false,
    env: { BENCH_RUNNERS: '4' },
    quickEnv: { BENCH_RUNNERS: '2' },
  },
];

interface ScenarioOutcome {
  name: string;
  title: string;
  seconds: number;
  ok: boolean;
  error?: string;
  headlines: Headline[];
  results?: unknown;
}

const here = dirname(fileURLToPath(import.meta.url));

const runScript = (script: string, args: string[], env: Record<string, string>): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], {
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });

const runScenario = async (
  spec: ScenarioSpec,
  quick: boolean,
  volume: Volume | undefined,
): Promise<ScenarioOutcome> => {
  const resultsFile = join(resultsFolder, `.run-${spec.name}.json`);
  rmSync(resultsFile, { force: true });
  console.log(`\n=== ${spec.name}: ${spec.title}${quick ? ' (--quick)' : ''}`);
  const elapsed = stopwatch();
  const env = {
    ...(quick ? (spec.quickEnv ?? {}) : spec.env),
    BENCH_RESULTS_FILE: resultsFile,
    ...(volume === undefined ? {} : { BENCH_VOLUME_URL: volume.url }),
  };
  const code = await runScript(spec.script, quick ? ['--quick'] : [], env);
  const seconds = elapsed.seconds();
  const base = { name: spec.name, title: spec.title, seconds };
  if (code !== 0 || !existsSync(resultsFile)) {
    return { ...base, ok: false, error: `exited with ${code}`, headlines: [] };
  }
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as { headlines: Headline[] };
  rmSync(resultsFile, { force: true });
  return { ...base, ok: true, headlines: results.headlines, results };
};

const summaryTable = (outcomes: ScenarioOutcome[]): string => {
  const rows: string[][] = [];
  for (const outcome of outcomes) {
    if (!outcome.ok) rows.push([outcome.name, `FAILED: ${outcome.error ?? ''}`, '', '', '', '', fmt(outcome.seconds)]);
    for (const h of outcome.headlines) {
      const ratio = ratioOf(h);
      rows.push([
        outcome.name,
        h.measure,
        `${fmt(h.value, h.value < 100 ? 1 : 0)} ${h.unit}${h.note === undefined ? '' : ` (${h.note})`}`,
        h.baseline === undefined ? '-' : `${fmt(h.baseline.value, h.baseline.value < 100 ? 1 : 0)} ${h.unit}`,
        h.baseline?.what ?? '-',
        ratio === undefined ? '-' : `${ratio.toFixed(2)}x`,
        fmt(outcome.seconds),
      ]);
    }
  }
  return table(['scenario', 'measure', 'ours', 'baseline', 'baseline is', 'vs baseline', 'scenario s'], rows);
};

const main = async (): Promise<number> => {
  const serverUrl = requireServerUrl('npm run bench');
  const quick = quickMode();
  const onlyArg = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
  const only = onlyArg?.split(',').map((name) => name.trim());
  const unknown = only?.filter((name) => !scenarios.some((s) => s.name === name)) ?? [];
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(', ')}; there are ${scenarios.map((s) => s.name).join(', ')}`);
    return 2;
  }
  const selected = scenarios.filter((s) => only === undefined || only.includes(s.name));
  const elapsed = stopwatch();
  const loadAtStart = loadAverages();
  const server = await serverFacts(serverUrl);
  console.log(
    `npm run bench${quick ? ' --quick' : ''}: ${selected.map((s) => s.name).join(', ')}; PostgreSQL ` +
      `${server.server_version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, load ${loadAtStart.join(' ')}`,
  );

  let volume: Volume | undefined;
  const outcomes: ScenarioOutcome[] = [];
  let volumeSeconds = 0;
  try {
    if (selected.some((s) => s.onVolume)) {
      const loading = stopwatch();
      console.log(`\n=== volume: the shared data the search, export and ledger scenarios run on`);
      volume = await openVolume(quick);
      volumeSeconds = loading.seconds();
      console.log(`  volume loaded in ${volumeSeconds.toFixed(1)} s`);
    }
    for (const spec of selected) outcomes.push(await runScenario(spec, quick, spec.onVolume ? volume : undefined));
  } finally {
    await volume?.release();
  }

  const seconds = elapsed.seconds();
  console.log(`\n=== summary${quick ? ' (--quick: smoke sizes, not figures)' : ''}`);
  console.log(summaryTable(outcomes));
  console.log(`volume load ${volumeSeconds.toFixed(0)} s; whole run ${seconds.toFixed(0)} s`);
  // A partial run keeps the last whole run's file.
  const name = [quick ? 'bench-quick' : 'bench', ...(only === undefined ? [] : ['only', ...only])].join('-');
  const out = join(resultsFolder, `${name}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        startedAt: new Date(performance.timeOrigin).toISOString(),
        quick,
        seconds: Math.round(seconds),
        machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
        node: process.version,
        server,
        loadAverage: { start: loadAtStart, end: loadAverages() },
        volume:
          volume === undefined ? null : { spec: volume.spec, seconds: Math.round(volumeSeconds), load: volume.load },
        scenarios: outcomes,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`results written to ${out}`);
  return outcomes.every((outcome) => outcome.ok) ? 0 : 1;
};

process.exitCode = await main();
