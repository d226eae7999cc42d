import { sql, type Kysely } from 'kysely';

/** Runs DDL one statement at a time: the extended query protocol takes a single statement per call. */
export const executeStatements = async (db: Kysely<unknown>, statements: string[]): Promise<void> => {
  for (const statement of statements) await sql.raw(statement).execute(db);
};
