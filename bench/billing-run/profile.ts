import { performance } from 'node:perf_hooks';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';

/** Profiling: every statement Kysely runs, counted and timed from compile to result, by kind and table. */

interface StatementStats {
  count: number;
  ms: number;
}

const tableIn = (node: unknown, depth = 0): string | undefined => {
  if (node === null || typeof node !== 'object' || depth > 6) return undefined;
  const record = node as { kind?: unknown; table?: { identifier?: { name?: unknown } } };
  if (record.kind === 'TableNode' && typeof record.table?.identifier?.name === 'string') {
    return record.table.identifier.name;
  }
  for (const value of Object.values(node)) {
    const found = Array.isArray(value)
      ? value.map((item) => tableIn(item, depth + 1)).find((name) => name !== undefined)
      : tableIn(value, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
};

const describeStatement = (node: RootOperationNode): string => {
  switch (node.kind) {
    case 'SelectQueryNode': {
      const modifiers = (node.endModifiers ?? []).map((m) => m.modifier).filter((m) => m !== undefined);
      const lock = modifiers.includes('ForUpdate') ? ' for update' : '';
      const skip = modifiers.includes('SkipLocked') ? ' skip locked' : '';
      return `select ${tableIn(node.from) ?? '?'}${lock}${skip}`;
    }
    case 'InsertQueryNode':
      return `insert ${tableIn(node.into) ?? '?'}${node.onConflict === undefined ? '' : ' on conflict'}`;
    case 'UpdateQueryNode':
      return `update ${tableIn(node.table) ?? '?'}`;
    case 'DeleteQueryNode':
      return `delete ${tableIn(node.from) ?? '?'}`;
    case 'RawNode': {
      const text = node.sqlFragments.join('$').replace(/\s+/g, ' ').trim();
      const insert = /^insert into (\w+)/.exec(text);
      if (insert !== null) return `insert ${insert[1]} (raw)`;
      const call = /^select (\w+)\(/.exec(text);
      if (call !== null) return `select ${call[1]}()`;
      const from = /from (\w+)/.exec(text);
      return `raw ${from?.[1] ?? text.slice(0, 30)}`;
    }
    default:
      return node.kind;
  }
};

export class StatementProfile implements KyselyPlugin {
  readonly stats = new Map<string, StatementStats>();
  readonly #pending = new WeakMap<object, { label: string; at: number }>();

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    this.#pending.set(queryId, { label: describeStatement(node), at: performance.now() });
    return node;
  }

  async transformResult({ queryId, result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const pending = this.#pending.get(queryId);
    if (pending !== undefined) {
      const stats = this.stats.get(pending.label) ?? { count: 0, ms: 0 };
      stats.count += 1;
      stats.ms += performance.now() - pending.at;
      this.stats.set(pending.label, stats);
    }
    return result;
  }

  take(): { label: string; count: number; ms: number }[] {
    const rows = [...this.stats.entries()].map(([label, stats]) => ({ label, ...stats })).sort((a, b) => b.ms - a.ms);
    this.stats.clear();
    return rows;
  }
}
