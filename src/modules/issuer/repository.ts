import type { Insertable, Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { DocumentIssuerTable } from '../../db/schema.js';

export type IssuerRow = Selectable<DocumentIssuerTable>;
export type IssuerSettings = Omit<Insertable<DocumentIssuerTable>, 'id'>;

/** The saved issuer, or undefined while the configuration's is used. */
export const findIssuerRow = (db: Db): Promise<IssuerRow | undefined> =>
  db.selectFrom('document_issuer').selectAll().executeTakeFirst();

/** Saves the one issuer row, replacing what was there. */
export const upsertIssuerRow = (db: Db, settings: IssuerSettings): Promise<IssuerRow> =>
  db
    .insertInto('document_issuer')
    .values({ id: true, ...settings })
    .onConflict((conflict) => conflict.column('id').doUpdateSet(settings))
    .returningAll()
    .executeTakeFirstOrThrow();

/** Removes the saved issuer: the configuration's applies again. */
export const deleteIssuerRow = async (db: Db): Promise<void> => {
  await db.deleteFrom('document_issuer').execute();
};
