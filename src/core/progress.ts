import type { Clock } from './clock.js';

/**
 * What long work reports as it goes: units done so far and how many there are. `total` may be an
 * estimate read up front (due subscriptions, tenant-days), which other runners sharing the work can
 * make too high and new work arriving too low.
 */
export interface JobProgress {
  done: number;
  total: number;
  totalIsEstimate: boolean;
}

/**
 * Optional observer long domain work takes in its options; it must not throw. Work waits for a
 * promise it returns, and calls it only between transactions, so waiting holds no lock.
 */
export type ProgressObserver = (progress: JobProgress) => void | Promise<void>;

export interface ProgressSnapshot {
  startedAt: Date;
  finishedAt: Date | null;
  done: number;
  /** Never below `done`: an estimate that was passed shows what was done instead. */
  total: number;
  totalIsEstimate: boolean;
  elapsedSeconds: number;
  /** Units per second since the start; null until any time has passed. */
  ratePerSecond: number | null;
  /** Seconds left at the rate so far; 0 when finished or nothing is left, null when unknown. */
  etaSeconds: number | null;
}

/**
 * Follows one run's progress: rate and time left from the injected clock, so it is tested without
 * waiting and domain code never reads the wall clock.
 */
export class ProgressTracker {
  private readonly startedAt: Date;
  private finishedAt: Date | null = null;
  private progress: JobProgress;

  constructor(
    private readonly clock: Clock,
    initial: JobProgress = { done: 0, total: 0, totalIsEstimate: false },
  ) {
    this.startedAt = clock.now();
    this.progress = { ...initial };
  }

  update(progress: JobProgress): void {
    if (this.finishedAt === null) this.progress = { ...progress };
  }

  finish(): void {
    if (this.finishedAt === null) this.finishedAt = this.clock.now();
  }

  get finished(): boolean {
    return this.finishedAt !== null;
  }

  snapshot(): ProgressSnapshot {
    const end = this.finishedAt ?? this.clock.now();
    const elapsedSeconds = Math.max(0, (end.getTime() - this.startedAt.getTime()) / 1000);
    const { done, totalIsEstimate } = this.progress;
    const total = Math.max(this.progress.total, done);
    const ratePerSecond = elapsedSeconds > 0 ? done / elapsedSeconds : null;
    return {
      startedAt: new Date(this.startedAt),
      finishedAt: this.finishedAt === null ? null : new Date(this.finishedAt),
      done,
      total,
      totalIsEstimate,
      elapsedSeconds,
      ratePerSecond,
      etaSeconds: this.etaSeconds(done, total, ratePerSecond),
    };
  }

  private etaSeconds(done: number, total: number, rate: number | null): number | null {
    if (this.finishedAt !== null) return 0;
    // Past an estimate there is no telling how much is left.
    if (this.progress.totalIsEstimate && done > this.progress.total) return null;
    const left = total - done;
    if (left === 0) return 0;
    return rate === null || rate === 0 ? null : left / rate;
  }
}
