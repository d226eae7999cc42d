import type pg from 'pg';

/** `($1, $2), ($3, $4)`: the VALUES list of a multi-row INSERT of `rows` rows of `width` columns. */
export const valuesList = (width: number, rows: number): string =>
  Array.from(
    { length: rows },
    (_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`,
  ).join(', ');

/** Rows per multi-row INSERT at most; fewer when the columns would pass PostgreSQL's 65,535 parameters. */
const maxRowsPerStatement = 5000;
const maxParameters = 65_000;

/** How many rows of `width` parameters one statement takes. */
export const rowsPerStatement = (width: number): number =>
  Math.min(maxRowsPerStatement, Math.floor(maxParameters / width));

/** Multi-row INSERTs of `rows`, as many per statement as the parameter limit allows. */
export const insertRows = async (
  client: pg.ClientBase,
  table: string,
  columns: string[],
  rows: unknown[][],
): Promise<void> => {
  const perStatement = rowsPerStatement(columns.length);
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    await client.query(
      `insert into ${table} (${columns.join(', ')}) values ${valuesList(columns.length, chunk.length)}`,
      chunk.flat(),
    );
  }
};

export interface UnnestInsert {
  client: pg.ClientBase;
  table: string;
  columns: [name: string, type: string][];
  rows: unknown[][];
  chunk?: number | undefined;
}

/**
 * `insert into <table> (<columns>) select * from unnest($1::<type>[], …)`: one statement for any
 * row count (one array a column), sent `chunk` rows at a time.
 */
export const unnestInsert = async ({ client, table, columns, rows, chunk = 10_000 }: UnnestInsert): Promise<void> => {
  for (let from = 0; from < rows.length; from += chunk) {
    const part = rows.slice(from, from + chunk);
    const arrays = columns.map((_, c) => part.map((row) => row[c] ?? null));
    await client.query(
      `insert into ${table} (${columns.map(([name]) => name).join(', ')})
       select * from unnest(${columns.map(([, type], c) => `$${c + 1}::${type}[]`).join(', ')})`,
      arrays,
    );
  }
};
