import { randomToken } from '../core/ids.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import pg from 'pg';

/** Tests run on the server named by DATABASE_URL when set, else on embedded PGlite in memory. */
export const testServerUrl = (): string | undefined => process.env.DATABASE_URL || undefined;

export interface TestDatabase extends DatabaseHandle {
  /** Connection string of this test's own database (server mode only). */
  url: string | undefined;
  destroy(): Promise<void>;
}

const withAdminClient = async <T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> => {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
};

/** A fresh, migrated database of its own for one test file (up to `upTo` only if given); `destroy` drops it. */
export const createTestDatabase = async (upTo?: string): Promise<TestDatabase> => {
  const serverUrl = testServerUrl();
  if (serverUrl === undefined) {
    const handle = await openDatabase({ kind: 'memory' });
    await migrateToLatest(handle.db, upTo);
    return { ...handle, url: undefined, destroy: handle.close };
  }
  const name = `billing_test_${randomToken(12)}`;
  await withAdminClient(serverUrl, (client) => client.query(`create database ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'server', url: url.toString(), pool: defaultPoolConfig });
  await migrateToLatest(handle.db, upTo);
  return {
    ...handle,
    url: url.toString(),
    destroy: async () => {
      await handle.close();
      await withAdminClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
};
