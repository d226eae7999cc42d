import type { Clock } from '../../core/clock.js';
import { ProgressTracker, type JobProgress, type ProgressSnapshot } from '../../core/progress.js';

/** The long jobs a process runs and reports. */
export const jobNames = ['billing_run', 'payg_settlement'] as const;
export type JobName = (typeof jobNames)[number];

export const jobStatuses = ['running', 'finished', 'failed'] as const;
export type JobStatus = (typeof jobStatuses)[number];

export interface JobRun extends ProgressSnapshot {
  /** Numbered from 1 in this process. */
  run: number;
  job: JobName;
  status: JobStatus;
}

interface Entry {
  run: number;
  job: JobName;
  tracker: ProgressTracker;
  failed: boolean;
}

/** Finished runs kept for the listing: enough to see the last few ticks of each job. */
const finishedKept = 20;

/**
 * The long jobs of THIS process, running and lately finished, with their progress. Kept in
 * memory: each replica knows only its own runs (a shared view across replicas is a later step).
 */
export class JobRegistry {
  private readonly running = new Map<number, Entry>();
  private finished: Entry[] = [];
  private runs = 0;

  constructor(private readonly clock: Clock) {}

  /**
   * Runs `work` as a job, giving it the progress observer to pass on; the run is listed from its
   * start and kept among the finished ones after it ends, failed if `work` threw.
   */
  async track<T>(job: JobName, work: (onProgress: (progress: JobProgress) => void) => Promise<T>): Promise<T> {
    this.runs += 1;
    const entry: Entry = { run: this.runs, job, tracker: new ProgressTracker(this.clock), failed: false };
    this.running.set(entry.run, entry);
    try {
      return await work((progress) => entry.tracker.update(progress));
    } catch (error) {
      entry.failed = true;
      throw error;
    } finally {
      entry.tracker.finish();
      this.running.delete(entry.run);
      this.finished = [entry, ...this.finished].slice(0, finishedKept);
    }
  }

  /** Running jobs first (oldest first), then the finished ones, most recent first. */
  list(): JobRun[] {
    return [...this.running.values(), ...this.finished].map((entry) => ({
      run: entry.run,
      job: entry.job,
      status: entry.tracker.finished ? (entry.failed ? 'failed' : 'finished') : 'running',
      ...entry.tracker.snapshot(),
    }));
  }

  /** Each job's latest run: the running one, or else the last finished. */
  latest(job: JobName): JobRun | undefined {
    return this.list().find((run) => run.job === job);
  }
}
