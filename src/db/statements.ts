import { sql, type Kysely } from 'kysely';

/** Runs DDL one statement at a time: the extended query protocol takes a single statement per call. */
export const executeStatements = async (db: Kysely<unknown>, statements: string[]): Promise<void> => {
  for (const statement of statements) await sql.raw(statement).execute(db);
};

/** Triggers that make a table insert-only: UPDATE, DELETE and TRUNCATE are refused by the database. */
export const insertOnly = (table: string): string[] => [
  `create trigger ${table}_immutable before update or delete on ${table}
     for each row execute function refuse_mutation()`,
  `create trigger ${table}_no_truncate before truncate on ${table}
     for each statement execute function refuse_mutation()`,
];
