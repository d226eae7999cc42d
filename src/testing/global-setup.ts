import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { testServerUrl } from './test-database.js';

/**
 * Compiles dist/ from the current source, since the CLI tests run the `billing` command as shipped;
 * then fails fast, with the reason, when the configured test server cannot be reached.
 */
export default async function setup(): Promise<void> {
  execFileSync(process.execPath, ['scripts/build.js', '--if-stale'], { stdio: 'inherit' });
  const url = testServerUrl();
  if (url === undefined) {
    console.log('tests: embedded PGlite (set DATABASE_URL to run them on a PostgreSQL server)');
    return;
  }
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    console.log(`tests: PostgreSQL ${rows[0]?.server_version} at ${new URL(url).host}, a fresh database per test file`);
  } finally {
    await client.end();
  }
}
