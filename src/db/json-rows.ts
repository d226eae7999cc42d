/**
 * Rows as one JSON array for `jsonb_populate_recordset` / `jsonb_to_recordset`: a batch of rows in
 * one parameter, typed by the table in SQL. A bigint goes as its digits (exact), a Date as ISO 8601.
 */
export const jsonRows = (rows: readonly object[]): string =>
  JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
