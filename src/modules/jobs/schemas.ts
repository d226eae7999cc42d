import { Type } from 'typebox';
import { jobNames, jobStatuses } from './job-registry.js';

export const JobRunSchema = Type.Object({
  run: Type.Integer({ description: 'Numbered from 1 in this process' }),
  job: Type.Enum([...jobNames], {
    description: 'billing_run: subscriptions advanced; payg_settlement: tenant-days settled',
  }),
  status: Type.Enum([...jobStatuses]),
  started_at: Type.String({ format: 'date-time' }),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  done: Type.Integer({ description: 'Units done so far (a failed unit counts as done: the run gave up on it)' }),
  total: Type.Integer({ description: 'Units to do; never below done' }),
  total_is_estimate: Type.Boolean({
    description: 'The total was read at the start; other runners taking part of the work leave a run short of it',
  }),
  rate_per_second: Type.Union([Type.Number(), Type.Null()], { description: 'Units per second so far' }),
  eta_seconds: Type.Union([Type.Number(), Type.Null()], {
    description: 'Seconds left at the rate so far; null when unknown (no rate yet, or past an estimated total)',
  }),
});

export const JobListSchema = Type.Object({
  scope: Type.Literal('process', {
    description: 'Only the runs of the replica that answered: each process keeps its own',
  }),
  jobs: Type.Array(JobRunSchema, {
    description: 'Running jobs (oldest first), then the last finished ones (most recent first)',
  }),
});
