import { sql } from 'kysely';
import { idPrefixes } from '../core/ids.js';
import type { Db } from '../db/database.js';

/** A row as the database prints each of its values (null stays null). */
export type DumpRow = Record<string, string | null>;

/** Every row of every table (but the migrator's own), by table. */
export type DatabaseDump = Record<string, DumpRow[]>;

/** Every table and all its rows; each value is text, so no number or time is rounded on the way. */
export const dumpDatabase = async (db: Db): Promise<DatabaseDump> => {
  const { rows: tables } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
     where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely_migration%'
     order by table_name`.execute(db);
  const dump: DatabaseDump = {};
  for (const { name } of tables) {
    const { rows } = await sql<{ row: DumpRow }>`
      select (select jsonb_object_agg(key, value #>> '{}') from jsonb_each(to_jsonb(t))) as row
        from ${sql.table(name)} t`.execute(db);
    dump[name] = rows.map(({ row }) => row);
  }
  return dump;
};

/**
 * An id the service generated (`rec_…`, `ctr_…`, `sub_…`, …), also inside text such as `sandbox_rec_…`;
 * a time-ordered one (`evt_…`) has 9 characters of time before its 16 random ones.
 */
const generatedId = new RegExp(
  `(?:${Object.values(idPrefixes).join('|')})_(?:[a-z0-9]{9})?[a-z0-9]{16}(?![a-z0-9])`,
  'g',
);

/**
 * The dump with every generated id replaced by a label numbered per tenant by first appearance
 * (`<tnt_a rec 3>`), so two databases that wrote the same rows under other random ids compare
 * equal, and a row that names another row (the invoice a ledger debit pays) still has to name the
 * same one; a row missing from one tenant shifts only that tenant's later labels. Tables are
 * walked `first` first (those whose rows own the ids), then by name; rows by tenant, by time
 * (`created_at` or `occurred_at`), then by their content with the labels known so far. Rows that
 * only an unlabelled id tells apart would make the labels depend on storage order: that throws
 * rather than compare by chance.
 */
export const labelGeneratedIds = (dump: DatabaseDump, first: readonly string[]): DatabaseDump => {
  const labels = new Map<string, string>();
  const counts = new Map<string, number>();
  const prefixOf = (id: string) => id.slice(0, id.indexOf('_'));
  const known = (text: string) => text.replace(generatedId, (id) => labels.get(id) ?? `<${prefixOf(id)} ?>`);
  const labelIn = (tenantId: string) => (text: string) =>
    text.replace(generatedId, (id) => {
      const existing = labels.get(id);
      if (existing !== undefined) return existing;
      const namespace = `${tenantId} ${prefixOf(id)}`;
      const count = (counts.get(namespace) ?? 0) + 1;
      counts.set(namespace, count);
      const fresh = `<${namespace} ${count}>`;
      labels.set(id, fresh);
      return fresh;
    });
  const mapRow = (row: DumpRow, map: (text: string) => string): DumpRow =>
    Object.fromEntries(Object.entries(row).map(([column, value]) => [column, value === null ? null : map(value)]));
  const tables = [
    ...first,
    ...Object.keys(dump)
      .filter((table) => !first.includes(table))
      .sort(),
  ];
  const labelled: DatabaseDump = {};
  for (const table of tables) {
    const keyed = (dump[table] ?? []).map((row) => {
      const content = JSON.stringify(mapRow(row, known));
      return { row, sortKey: `${row.tenant_id ?? ''}|${row.created_at ?? row.occurred_at ?? ''}|${content}` };
    });
    keyed.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const [index, { sortKey }] of keyed.entries()) {
      if (index > 0 && sortKey === keyed[index - 1]?.sortKey && sortKey.includes(' ?>')) {
        throw new Error(`${table}: rows told apart only by ids not labelled yet: ${sortKey}`);
      }
    }
    labelled[table] = keyed.map(({ row }) => mapRow(row, labelIn(row.tenant_id ?? 'global')));
  }
  return labelled;
};
