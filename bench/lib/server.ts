import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../src/testing/test-database.js';

/**
 * The PostgreSQL server every scenario runs on: the URL it is given, connections, databases made,
 * cloned and dropped on it, and the server settings that move every figure.
 */

/** DATABASE_URL, or a message saying what is needed and exit 2: benches never run on the embedded database. */
export const requireServerUrl = (scenario: string): string => {
  const url = process.env.DATABASE_URL;
  if (url !== undefined && url !== '') return url;
  console.error(
    `${scenario} bench: DATABASE_URL is not set.\n` +
      'It needs a PostgreSQL server it may create and drop databases on, e.g.\n' +
      '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench',
  );
  process.exit(2);
};

/** --quick on the command line, or `npm run bench --quick` (npm hands that on as npm_config_quick). */
export const quickMode = (): boolean => process.argv.includes('--quick') || process.env.npm_config_quick === 'true';

/** A comma-separated list of numbers from the environment, e.g. BENCH_CLIENTS=1,8,32. */
export const numbersFromEnv = (name: string, fallback: string): number[] =>
  (process.env[name] ?? fallback).split(',').map((n) => Number(n.trim()));

/** The same server, another database. */
const databaseUrl = (serverUrl: string, name: string): string => {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

export const databaseNameOf = (url: string): string => new URL(url).pathname.slice(1);

export const withClient = async <T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> => {
  const client = new pg.Client({ connectionString: url, application_name: 'bench' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
};

/** A connection for bulk loading: commits do not wait for the WAL flush (this session only). */
export const loadingClient = async (url: string, applicationName: string, settings: string[] = []) => {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  // Bulk-load session settings only: nothing here outlives the connection.
  for (const setting of ['synchronous_commit = off', ...settings]) await client.query(`set ${setting}`);
  return client;
};

/** A fresh migrated database on the server (as the tests make one): a scenario's template or the volume. */
export const createServerDatabase = async (): Promise<{ database: TestDatabase; url: string; name: string }> => {
  const database = await createTestDatabase();
  if (database.url === undefined) throw new Error('expected a server database (DATABASE_URL)');
  return { database, url: database.url, name: databaseNameOf(database.url) };
};

/** An empty database (not migrated), e.g. for pgbench. */
export const createEmptyDatabase = async (serverUrl: string, name: string): Promise<string> => {
  await withClient(serverUrl, (client) => client.query(`create database ${name}`));
  return databaseUrl(serverUrl, name);
};

/** A copy of a template database, checkpointed so no step pays for an earlier one's dirty buffers. */
export const cloneDatabase = async (serverUrl: string, templateName: string, name: string): Promise<string> => {
  await withClient(serverUrl, async (client) => {
    await client.query(`create database ${name} template ${templateName}`);
    await client.query('checkpoint');
  });
  return databaseUrl(serverUrl, name);
};

export const dropDatabase = (serverUrl: string, name: string): Promise<unknown> =>
  withClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`));

/**
 * `work` on a clone of the template named `name`, dropped afterwards whatever happened. A database
 * is cloned only while nobody is connected to it: close the template's handle first.
 */
export const withClone = async <T>(
  serverUrl: string,
  templateName: string,
  name: string,
  work: (url: string) => Promise<T>,
): Promise<T> => {
  const url = await cloneDatabase(serverUrl, templateName, name);
  try {
    return await work(url);
  } finally {
    await dropDatabase(serverUrl, name);
  }
};

/** The server settings that move every figure. */
export const serverFacts = (url: string): Promise<Record<string, string>> =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from unnest(array['server_version', 'shared_buffers',
         'work_mem', 'synchronous_commit', 'fsync', 'wal_level', 'max_wal_size', 'max_connections', 'autovacuum',
         'jit']) as name`,
    );
    return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
  });
