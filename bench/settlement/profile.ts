import { performance } from 'node:perf_hooks';
import pg from 'pg';

/** Statement profile: every round trip of the pg driver timed by kind (begin and commit included). */

export interface StatementTime {
  kind: string;
  count: number;
  ms: number;
}

const statementKind = (text: string): string => {
  const sql = text.trim().toLowerCase();
  const verb = /^\w+/.exec(sql)?.[0] ?? '?';
  if (verb === 'begin' || verb === 'commit' || verb === 'rollback') return verb;
  if (sql.includes('ledger_post(')) return 'select ledger_post(…)';
  const table =
    (verb === 'insert' ? /^insert into "?(\w+)/ : verb === 'update' ? /^update "?(\w+)/ : /\bfrom "?(\w+)/).exec(
      sql,
    )?.[1] ?? '?';
  const extra = [
    /\bmax\(/.test(sql) && 'max()',
    / for update/.test(sql) && 'for update',
    / skip locked/.test(sql) && 'skip locked',
  ]
    .filter(Boolean)
    .join(' ');
  return `${verb} ${table}${extra === '' ? '' : ` (${extra})`}`;
};

/**
 * Wraps pg's Client#query (the promise form Kysely uses) to time each statement until `stop`.
 * Measures the round trip as the caller sees it: network, server work and result parsing.
 */
export const profileStatements = (): { stop: () => StatementTime[] } => {
  type Query = (this: unknown, ...args: unknown[]) => unknown;
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  const times = new Map<string, StatementTime>();
  prototype.query = function (this: unknown, ...args: unknown[]): unknown {
    const text = args[0];
    if (typeof text !== 'string' || typeof args[args.length - 1] === 'function') return original.apply(this, args);
    const started = performance.now();
    const done = (): void => {
      const kind = statementKind(text);
      const entry = times.get(kind) ?? { kind, count: 0, ms: 0 };
      entry.count += 1;
      entry.ms += performance.now() - started;
      times.set(kind, entry);
    };
    return (original.apply(this, args) as Promise<unknown>).then(
      (result) => {
        done();
        return result;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  };
  return {
    stop: () => {
      prototype.query = original;
      return [...times.values()].sort((a, b) => b.ms - a.ms);
    },
  };
};
