import { randomToken } from '../core/ids.js';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import pg from 'pg';

/** Names the migrated template database a test run copies (set by global-setup.ts on a server). */
export const templateVariable = 'BILLING_TEST_TEMPLATE_DB';

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

/**
 * Migrated in-memory databases' files, by how far they were migrated: a test process migrates
 * once and opens every later database from the image (seconds saved per database on PGlite).
 */
const migratedImages = new Map<string, Promise<Blob | File>>();

const migratedImage = (upTo: string | undefined): Promise<Blob | File> => {
  const key = upTo ?? '';
  let image = migratedImages.get(key);
  if (image === undefined) {
    image = (async () => {
      const handle = await openDatabase({ kind: 'memory' });
      try {
        await migrateToLatest(handle.db, upTo);
        return await handle.image!();
      } finally {
        await handle.close();
      }
    })();
    // A failed build is not kept: the next database tries again and shows its own error.
    image.catch(() => migratedImages.delete(key));
    migratedImages.set(key, image);
  }
  return image;
};

/** A fresh, migrated database of its own for one test file (up to `upTo` only if given); `destroy` drops it. */
export const createTestDatabase = async (upTo?: string): Promise<TestDatabase> => {
  const serverUrl = testServerUrl();
  if (serverUrl === undefined) {
    const handle = await openDatabase({ kind: 'memory', image: await migratedImage(upTo) });
    return { ...handle, url: undefined, destroy: handle.close };
  }
  // A copy of the run's migrated template (global-setup.ts) is a fraction of migrating anew.
  const template = upTo === undefined ? process.env[templateVariable] : undefined;
  return newServerDatabase(serverUrl, 'billing_test', { template, upTo });
};

/**
 * A new database on the server named `<prefix>_<random>`: a copy of `template` if given, else
 * migrated (up to `upTo` if given); dropped again if migrating fails, and by `destroy`.
 */
export const newServerDatabase = async (
  serverUrl: string,
  prefix: string,
  { template, upTo }: { template?: string | undefined; upTo?: string | undefined } = {},
): Promise<TestDatabase & { name: string }> => {
  const name = `${prefix}_${randomToken(12)}`;
  await withAdminClient(serverUrl, (client) =>
    client.query(`create database ${name}${template === undefined ? '' : ` template ${template}`}`),
  );
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'server', url: url.toString(), pool: defaultPoolConfig });
  // Closing twice is harmless: a template is closed (copies need it unconnected) long before it is dropped.
  let open = true;
  const close = async () => {
    if (open) await handle.close();
    open = false;
  };
  const destroy = async () => {
    await close();
    await withAdminClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
  };
  if (template === undefined) {
    try {
      await migrateToLatest(handle.db, upTo);
    } catch (error) {
      await destroy();
      throw error;
    }
  }
  return { ...handle, close, name, url: url.toString(), destroy };
};
