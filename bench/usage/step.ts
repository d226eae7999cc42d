import { run, type RunStats, type Send } from '../lib/closed-loop.js';
import { loadAverages, watchCpu } from '../lib/cpu.js';
import { withClone } from '../lib/server.js';
import { stopwatch } from '../lib/timing.js';
import type { Batch } from './batches.js';
import { serverUrl, stepCapMs, type Path } from './config.js';
import { openPath } from './paths.js';
import { checkStored, countStored, type Counts } from './verify.js';

export interface StepResult {
  path: Path;
  clients: number;
  /** Events counted in the timed part (warm-up and the replay check excluded). */
  events: number;
  eventsPerSecond: number;
  batches: RunStats;
  /** How long the replay of one batch of 1,000 already counted events took. */
  replayMs: number;
  nodeCores: number;
  machineBusy: number;
  loadAverage: number[];
  stored: Counts;
}

export interface Workload {
  warmUp: Batch[];
  measured: Batch[];
}

export interface StepArgs {
  templateName: string;
  path: Path;
  clients: number;
  workload: Workload;
  authorization: string;
}

/**
 * One path at one client count on a fresh clone of the template: warm-up (one batch per client,
 * which also opens every connection), the timed run, a replay of the first batch, then the counts.
 */
export const runStep = ({ templateName, path, clients, workload, authorization }: StepArgs): Promise<StepResult> =>
  withClone(serverUrl, templateName, `${templateName}_${path.replace('-', '_')}_c${clients}`, async (url) => {
    const opened = await openPath(url, path, clients, authorization);
    let close: (() => Promise<void>) | undefined = opened.close;
    try {
      const { sendBatch } = opened;
      let quantitySent = 0n;
      let eventsSent = 0;
      /** Sends `batches` in order, one per call, and throws unless every event of each counts. */
      const sender = (batches: Batch[]): { send: Send; sent: () => number } => {
        let next = 0;
        return {
          send: async () => {
            const batch = batches[next]!;
            next += 1;
            const outcome = await sendBatch(batch);
            if (outcome.accepted !== batch.events.length || outcome.duplicates !== 0 || outcome.rejected !== 0) {
              throw new Error(
                `${path} c${clients}: a batch of ${batch.events.length} new events counted ${JSON.stringify(outcome)}`,
              );
            }
            eventsSent += batch.events.length;
            quantitySent += batch.quantity;
          },
          sent: () => next,
        };
      };

      const warmUp = sender(workload.warmUp.slice(0, clients));
      await run(warmUp.send, clients, clients, stepCapMs);
      const measured = sender(workload.measured);
      const cpu = watchCpu();
      const batches = await run(measured.send, workload.measured.length, clients, stepCapMs);
      const { nodeCores, machineBusy } = cpu();
      const loadAverage = loadAverages();
      const events = workload.measured.slice(0, measured.sent()).reduce((sum, batch) => sum + batch.events.length, 0);

      // Exactly once: the first batch again must count nothing.
      const first = workload.measured[0]!;
      const replaying = stopwatch();
      const replay = await sendBatch(first);
      const replayMs = Number(replaying.ms().toFixed(1));
      if (replay.accepted !== 0 || replay.duplicates !== first.events.length || replay.rejected !== 0) {
        throw new Error(`${path} c${clients}: a replayed batch counted ${JSON.stringify(replay)}`);
      }

      // Closed before counting: every write of the path has landed.
      await close();
      close = undefined;
      const rolledUp = path !== 'baseline';
      const stored = await countStored(url, rolledUp);
      checkStored(stored, { path, clients, eventsSent, quantitySent, rolledUp });

      return {
        path,
        clients,
        events,
        eventsPerSecond: Math.round((events * 1000) / batches.elapsedMs),
        batches,
        replayMs,
        nodeCores,
        machineBusy,
        loadAverage,
        stored,
      };
    } finally {
      await close?.();
    }
  });
