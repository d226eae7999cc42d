import {
  CompiledQuery,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type UnknownRow,
} from 'kysely';
import { systemClock } from '../../src/core/clock.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { buildBenchApp } from '../lib/app.js';
import type { Filter } from './filters.js';

export interface Statement {
  sql: string;
  parameters: readonly unknown[];
}

/**
 * Records the SQL the app sends (exactly as compiled, with its parameters) while switched on. Kysely
 * hands every query builder to the plugin, subqueries too: only those whose result comes back were
 * sent, in the order they answered.
 */
class QueryCapture implements KyselyPlugin {
  active = false;
  readonly queries: Statement[] = [];
  readonly #compiled = new Map<PluginTransformQueryArgs['queryId'], Statement>();

  constructor(private readonly database: DatabaseHandle) {}

  transformQuery({ node, queryId }: PluginTransformQueryArgs): PluginTransformQueryArgs['node'] {
    if (this.active) this.#compiled.set(queryId, this.database.db.getExecutor().compileQuery(node, queryId));
    return node;
  }

  transformResult({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const sent = this.#compiled.get(queryId);
    if (sent !== undefined) this.queries.push(sent);
    this.#compiled.delete(queryId);
    return Promise.resolve(result);
  }
}

/** The statements of a total: the repository names it `total` (from counters, or a count of rows). */
const isTotal = (statement: Statement): boolean => statement.sql.includes(' as "total"');

/**
 * The same request the way search worked before the counters (migration 0016): the same statements,
 * with the total counted row by row, `count(*)` over the page's own filter (its SQL up to the
 * ORDER BY, without the LIMIT and OFFSET parameters), in the page's place of the counters.
 */
const naiveOf = (statements: readonly Statement[]): Statement[] => {
  if (!statements.some(isTotal)) return [...statements];
  const page = statements.find((statement) =>
    /^select \* from "billing_records" where .* order by /s.test(statement.sql),
  );
  if (page === undefined) throw new Error(`no page statement among ${statements.map((s) => s.sql).join('; ')}`);
  const count: Statement = {
    sql: page.sql.replace(/^select \* /, 'select count(*) as "total" ').replace(/ order by .*$/s, ''),
    parameters: page.parameters.slice(0, -2),
  };
  const naive = statements.filter((statement) => !isTotal(statement));
  naive.splice(naive.indexOf(page) + 1, 0, count);
  return naive;
};

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
    const captured = new Map<string, { statements: Statement[]; naive: Statement[]; total: number }>();
    for (const filter of filters) {
      capture.queries.length = 0;
      capture.active = true;
      const response = await app.inject({ method: 'GET', url: path(filter), headers: { authorization } });
      capture.active = false;
      if (response.statusCode !== 200) throw new Error(`${filter.name}: ${response.statusCode} ${response.body}`);
      // Every statement the request sends (the tenant lookup too): the gap left is HTTP and Node.
      const statements = [...capture.queries];
      const total = response.json<{ total: number }>().total;
      const naive = naiveOf(statements);
      // The row-by-row count must agree with the app's total, or the comparison means nothing.
      const counted = naive.find(isTotal);
      if (counted !== undefined) {
        const { rows } = await database.db.executeQuery<{ total: bigint }>(
          CompiledQuery.raw(counted.sql, [...counted.parameters]),
        );
        if (Number(rows[0]?.total) !== total) {
          throw new Error(`${filter.name}: count(*) gives ${rows[0]?.total}, the app's total is ${total}`);
        }
      }
      captured.set(filter.name, { statements, naive, total });
    }
    return captured;
  } finally {
    await app.close();
    await database.close();
  }
};
