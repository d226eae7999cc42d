import { toRfc3339 } from '../../core/clock.js';
import type { JobRun } from './job-registry.js';

/** Rates and times left to a tenth: more digits only look precise. */
const tenths = (value: number | null): number | null => (value === null ? null : Math.round(value * 10) / 10);

export const toJobRunView = (run: JobRun) => ({
  run: run.run,
  job: run.job,
  status: run.status,
  started_at: toRfc3339(run.startedAt),
  finished_at: run.finishedAt === null ? null : toRfc3339(run.finishedAt),
  done: run.done,
  total: run.total,
  total_is_estimate: run.totalIsEstimate,
  rate_per_second: tenths(run.ratePerSecond),
  eta_seconds: tenths(run.etaSeconds),
});
