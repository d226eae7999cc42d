import type { Clock } from '../core/clock.js';
import { ProgressTracker, type JobProgress, type ProgressSnapshot } from '../core/progress.js';

/** Where progress goes: stderr, so stdout keeps only the summary a script parses. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressDisplayOptions {
  /** What runs, e.g. `billing run`. */
  label: string;
  /** What is counted, e.g. `subscriptions`. */
  unit: string;
  stream: ProgressStream;
  clock: Clock;
  /** Not on a terminal: milliseconds between plain lines (`BILLING_PROGRESS_INTERVAL_MS`). */
  intervalMs: number;
}

/** A terminal line is redrawn at most this often, and at least this often while nothing is reported. */
const redrawMs = 250;

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const rate = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** 4.2 s, 12 s, 3 min 05 s, 2 h 07 min. */
export const formatDuration = (seconds: number): string => {
  if (seconds < 10) return `${rate.format(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
  return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} min`;
};

/** `billing run: 120/400 subscriptions (30%, total estimated at start), 35.2/s, 8 s left`. */
export const progressLine = (label: string, unit: string, snapshot: ProgressSnapshot): string => {
  const { done, total, totalIsEstimate, ratePerSecond, etaSeconds } = snapshot;
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
  const parts = [`${label}: ${integer.format(done)}/${integer.format(total)} ${unit} (${percent}%`];
  parts[0] += totalIsEstimate ? ', total estimated at start)' : ')';
  if (ratePerSecond !== null) parts.push(`${rate.format(ratePerSecond)}/s`);
  parts.push(etaSeconds === null ? 'time left unknown' : `${formatDuration(etaSeconds)} left`);
  return parts.join(', ');
};

/** `billing run: done, 400 subscriptions in 11 s (35.2/s)`; `stopped` instead of `done` when it failed. */
export const finishedLine = (label: string, unit: string, snapshot: ProgressSnapshot, failed = false): string => {
  const speed = snapshot.ratePerSecond === null ? '' : ` (${rate.format(snapshot.ratePerSecond)}/s)`;
  const outcome = failed ? 'stopped' : 'done';
  return `${label}: ${outcome}, ${integer.format(snapshot.done)} ${unit} in ${formatDuration(snapshot.elapsedSeconds)}${speed}`;
};

/**
 * Shows a long command's progress: on a terminal one line redrawn in place, elsewhere (CI, logs)
 * a plain line every `intervalMs`; then a last line when it ends. Lines are written when progress
 * is reported as well as by a timer, since a run on the embedded database may keep the event
 * loop too busy for timers.
 */
export class ProgressDisplay {
  private readonly tracker: ProgressTracker;
  private readonly tty: boolean;
  private lastWrite: number;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: ProgressDisplayOptions) {
    this.tracker = new ProgressTracker(options.clock);
    this.tty = options.stream.isTTY === true;
    this.lastWrite = options.clock.now().getTime();
  }

  /** The observer to hand the work. */
  readonly onProgress = (progress: JobProgress): void => {
    this.tracker.update(progress);
    this.writeIfDue();
  };

  /** Starts the timer that writes while nothing is reported. */
  start(): this {
    this.timer = setInterval(() => this.writeIfDue(), this.tty ? redrawMs : this.options.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops the timer and writes the last line (`failed`: the work threw). */
  finish({ failed = false }: { failed?: boolean } = {}): void {
    clearInterval(this.timer);
    this.tracker.finish();
    const line = finishedLine(this.options.label, this.options.unit, this.tracker.snapshot(), failed);
    this.options.stream.write(this.tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  private writeIfDue(): void {
    const now = this.options.clock.now().getTime();
    if (now - this.lastWrite < (this.tty ? redrawMs : this.options.intervalMs) || this.tracker.finished) return;
    this.lastWrite = now;
    const line = progressLine(this.options.label, this.options.unit, this.tracker.snapshot());
    if (!this.tty) {
      this.options.stream.write(`${line}\n`);
      return;
    }
    // Cut to the terminal's width, so the line never wraps and \r redraws all of it.
    const width = this.options.stream.columns ?? 80;
    this.options.stream.write(`\r\x1b[2K${line.length >= width ? `${line.slice(0, width - 2)}…` : line}`);
  }
}
