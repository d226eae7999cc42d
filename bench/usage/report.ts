import { writeResults, type Headline } from '../lib/results.js';
import { fmt, table } from '../lib/table.js';
import {
  appsPerTenant,
  batchSize,
  clientCounts,
  eventsPerStep,
  pathLabels,
  paths,
  seed,
  stepCapMs,
  tenantCount,
  type Path,
} from './config.js';
import type { StepResult } from './step.js';

/** Prints the summary and detail tables and writes the results file; its path. */
export const report = (results: StepResult[], loadAtStart: number[], facts: Record<string, string>): string => {
  const find = (path: Path, clients: number) => results.find((r) => r.path === path && r.clients === clients);
  const ratio = (path: Path, clients: number): string => {
    const of = find(path, clients)?.eventsPerSecond ?? Number.NaN;
    return `${fmt(of / (find('baseline', clients)?.eventsPerSecond ?? Number.NaN), 2)}x`;
  };
  const summary = paths.map((path) => [
    pathLabels[path],
    ...clientCounts.flatMap((clients) => {
      const result = find(path, clients);
      return [
        `${fmt(result?.eventsPerSecond ?? Number.NaN)}${result?.batches.capped ? '*' : ''}`,
        ratio(path, clients),
      ];
    }),
  ]);
  console.log(
    `\n${table(['path', ...clientCounts.flatMap((c) => [`c${c} events/s`, `c${c} vs baseline`])], summary)}\n` +
      `(events counted per second, closed loop, batches of ${batchSize}; * = stopped by the ${stepCapMs / 1000} s cap)\n`,
  );
  const details = results.map((r) => [
    r.path,
    String(r.clients),
    fmt(r.eventsPerSecond),
    ratio(r.path, r.clients),
    fmt(r.batches.p50Ms, 1),
    fmt(r.batches.p99Ms, 1),
    fmt(r.replayMs),
    fmt(r.nodeCores, 2),
    `${fmt(r.machineBusy * 100)}%`,
    String(r.loadAverage[0]),
  ]);
  console.log(
    `${table(
      [
        'path',
        'clients',
        'events/s',
        'vs baseline',
        'batch p50 ms',
        'batch p99 ms',
        'replay ms',
        'node cores',
        'machine busy',
        'load 1m',
      ],
      details,
    )}\n`,
  );

  const headlines: Headline[] = results
    .filter((r) => r.path !== 'baseline')
    .map((r) => ({
      measure: `${r.path === 'http' ? 'over HTTP' : 'in process'}, ${r.clients} clients, batches of ${batchSize}`,
      value: r.eventsPerSecond,
      unit: 'events/s',
      better: 'higher',
      note: `batch p50 ${fmt(r.batches.p50Ms)} / p99 ${fmt(r.batches.p99Ms)} ms`,
      baseline: {
        what: 'multi-row INSERT … ON CONFLICT DO NOTHING over pg',
        value: find('baseline', r.clients)?.eventsPerSecond ?? Number.NaN,
      },
    }));
  const out = writeResults('usage-ingest', loadAtStart, headlines, {
    server: facts,
    eventsPerStep,
    batchSize,
    clientCounts,
    seed,
    stepCapMs,
    tenants: tenantCount,
    appsPerTenant,
    steps: results,
  });
  return out;
};
