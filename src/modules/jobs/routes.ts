import type { Api, RouteDependencies } from '../../http/api.js';
import { ObjectEnvelope, objectEnvelope } from '../../http/envelope.js';
import { access } from '../auth/access.js';
import type { JobRegistry } from './job-registry.js';
import { JobListSchema } from './schemas.js';
import { toJobRunView } from './view.js';

export const registerJobRoutes = (app: Api, { clock, jobs }: RouteDependencies & { jobs: JobRegistry }): void => {
  app.get(
    '/admin/jobs',
    {
      config: { access: access.staff },
      schema: {
        operationId: 'listJobs',
        tags: ['admin'],
        summary:
          "Long jobs of the process that answers (billing runs, pay-as-you-go settlement): running ones with their progress, and the last finished. Per process: another replica's runs are not listed",
        response: { 200: ObjectEnvelope(JobListSchema) },
      },
    },
    async () => objectEnvelope({ scope: 'process' as const, jobs: jobs.list().map(toJobRunView) }, clock.now()),
  );
};
