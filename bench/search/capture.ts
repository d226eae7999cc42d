import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  UnknownRow,
} from 'kysely';
import { systemClock } from '../../src/core/clock.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { buildBenchApp } from '../lib/app.js';
import type { Filter } from './filters.js';

export interface Statement {
  sql: string;
  parameters: readonly unknown[];
}

/** Records the SQL the app sends (exactly as compiled, with its parameters) while switched on. */
class QueryCapture implements KyselyPlugin {
  active = false;
  readonly queries: Statement[] = [];

  constructor(private readonly database: DatabaseHandle) {}

  transformQuery({ node, queryId }: PluginTransformQueryArgs): PluginTransformQueryArgs['node'] {
    if (this.active) this.queries.push(this.database.db.getExecutor().compileQuery(node, queryId));
    return node;
  }

  transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(result);
  }
}

/** The statements the app runs for each filter, captured from an in-process app on the same database. */
export const captureStatements = async (
  url: string,
  path: (f: Filter) => string,
  filters: Filter[],
  authorization: string,
) => {
  const database = await openDatabase({ kind: 'server', url, pool: defaultPoolConfig });
  const capture = new QueryCapture(database);
  const app = await buildBenchApp({ ...database, db: database.db.withPlugin(capture) }, systemClock);
  try {
    const captured = new Map<string, { statements: Statement[]; total: number }>();
    for (const filter of filters) {
      capture.queries.length = 0;
      capture.active = true;
      const response = await app.inject({ method: 'GET', url: path(filter), headers: { authorization } });
      capture.active = false;
      if (response.statusCode !== 200) throw new Error(`${filter.name}: ${response.statusCode} ${response.body}`);
      // Every statement the request sends (the tenant lookup too): the gap left is HTTP and Node.
      captured.set(filter.name, { statements: [...capture.queries], total: response.json<{ total: number }>().total });
    }
    return captured;
  } finally {
    await app.close();
    await database.close();
  }
};
