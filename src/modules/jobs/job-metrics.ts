import { Gauge, type Registry } from 'prom-client';
import { jobNames, type JobRegistry } from './job-registry.js';

/**
 * Each job's latest run as gauges labelled by job, read from the registry at scrape time:
 * `billing_job_progress_done`, `billing_job_progress_total` and `billing_job_running` (1 while a run is going).
 */
export const installJobMetrics = (jobs: JobRegistry, metrics: Registry): void => {
  const gauge = (name: string, help: string, value: (run: NonNullable<ReturnType<JobRegistry['latest']>>) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['job'],
      registers: [metrics],
      collect() {
        this.reset();
        for (const job of jobNames) {
          const run = jobs.latest(job);
          if (run !== undefined) this.set({ job }, value(run));
        }
      },
    });
  gauge('billing_job_progress_done', 'Units the latest run of a long job has done (this process)', (run) => run.done);
  gauge(
    'billing_job_progress_total',
    'Units the latest run of a long job has to do, often an estimate read at its start (this process)',
    (run) => run.total,
  );
  gauge('billing_job_running', '1 while a run of the job is going in this process', (run) =>
    run.status === 'running' ? 1 : 0,
  );
};
