import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { newServerDatabase, templateVariable, testServerUrl } from './test-database.js';

/** A migrated database every test file's database is copied from; dropped when the run ends. */
const createTemplate = async (serverUrl: string): Promise<() => Promise<void>> => {
  const template = await newServerDatabase(serverUrl, 'billing_template');
  // Copies need it without connections: only its name is kept.
  await template.close();
  // The workers, started after this, inherit it.
  process.env[templateVariable] = template.name;
  return template.destroy;
};

/**
 * Compiles dist/ from the current source, since the CLI tests run the `billing` command as shipped;
 * then fails fast, with the reason, when the configured test server cannot be reached, and makes
 * the run's migrated template there. Returns the teardown that drops it.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  execFileSync(process.execPath, ['scripts/build.js', '--if-stale'], { stdio: 'inherit' });
  const url = testServerUrl();
  if (url === undefined) {
    console.log('tests: embedded PGlite (set DATABASE_URL to run them on a PostgreSQL server)');
    return undefined;
  }
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    console.log(`tests: PostgreSQL ${rows[0]?.server_version} at ${new URL(url).host}, a fresh database per test file`);
  } finally {
    await client.end();
  }
  return createTemplate(url);
}
