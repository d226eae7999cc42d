import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../core/clock.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { givenTenant } from '../testing/fixtures.js';
import { createTestAppOn } from '../testing/test-app.js';

const dataDir = mkdtempSync(join(tmpdir(), 'billing-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs `bin/billing.js` as a user would, with only the given environment. */
const run = (args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['bin/billing.js', ...args], {
      env: { PATH: process.env.PATH ?? '', BILLING_DATA_DIR: dataDir, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });

describe('the billing CLI', () => {
  it('lists its commands', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const command of ['serve', 'migrate', 'bill', 'settle', 'token']) expect(stdout).toContain(command);
  });

  it('exits non-zero naming each bad setting', async () => {
    const { code, stderr } = await run(['serve'], { PORT: 'eighty', LOG_LEVEL: 'chatty' });
    expect(code).toBe(2);
    expect(stderr).toContain('PORT must be an integer from 0 to 65535, got "eighty"');
    expect(stderr).toContain('LOG_LEVEL must be one of');
    expect(stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('refuses server mode without a way to verify tokens', async () => {
    const { code, stderr } = await run(['migrate'], { DATABASE_URL: 'postgres://127.0.0.1:5432/postgres' });
    expect(code).toBe(2);
    expect(stderr).toContain('BILLING_JWT_SECRET or BILLING_JWKS_URL is required');
  });

  it('migrates the embedded database, then finds it up to date', async () => {
    const first = await run(['migrate']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Success: 0001_foundation');
    const second = await run(['migrate']);
    expect(second.stdout).toContain('database is up to date');
  });

  it('mints a token with the development secret for the requested tenant and role', async () => {
    const { code, stdout } = await run([
      'token',
      '--role',
      'tenant_admin',
      '--tenant',
      'tnt_demo',
      '--user',
      'usr_demo',
    ]);
    expect(code).toBe(0);
    expect(decodeJwt(stdout.trim())).toMatchObject({
      sub: 'usr_demo',
      tenant_id: 'tnt_demo',
      roles: ['tenant_admin'],
      aud: 'billing',
    });
  });

  it('refuses a tenant role without --tenant, and an unknown role', async () => {
    expect((await run(['token', '--role', 'tenant_viewer'])).code).not.toBe(0);
    const unknown = await run(['token', '--role', 'root']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('Allowed choices');
  });

  it('runs billing on the embedded database and prints what it did', async () => {
    const { code, stdout, stderr } = await run(['bill', '--as-of', '2026-01-01T00:00:00Z']);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      as_of: '2026-01-01T00:00:00Z',
      subscriptions: 0,
      steps: { usage_close: 0, trial_end: 0, payment_retry: 0, grace_expiry: 0, period_end: 0 },
      reminders: { trial_will_end: 0, overdue: 0 },
      failures: [],
    });
  });

  it('refuses an --as-of that is not a time, or in the future', async () => {
    const garbled = await run(['bill', '--as-of', 'yesterday']);
    expect(garbled.code).not.toBe(0);
    expect(garbled.stderr).toContain('must be an RFC 3339 time');
    const future = await run(['bill', '--as-of', '2999-01-01T00:00:00Z']);
    expect(future.code).not.toBe(0);
    expect(future.stderr).toContain('--as-of must not be in the future');
  });

  it('prints progress lines to stderr when not on a terminal, and the summary alone on stdout', async () => {
    // A tenant created 12 days ago, through the API on the command's own data folder: 12 days to
    // settle. The folder is the one the tests above migrated (migrating a new one takes seconds).
    const handle = await openDatabase({ kind: 'embedded', dataDir });
    await migrateToLatest(handle.db);
    const created = new ManualClock(systemClock.now());
    created.advance(-12 * 86_400_000);
    const t = await createTestAppOn({ ...handle, url: undefined, destroy: handle.close }, created);
    await givenTenant(t, 'tnt_cli_settle');
    await t.close();

    const { code, stdout, stderr } = await run(['settle'], {
      BILLING_PROGRESS_INTERVAL_MS: '1',
    });
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ days: 12, failures: [] });
    const lines = stderr.trimEnd().split('\n');
    expect(stderr).not.toContain('\r');
    const progress = lines.filter((line) => line.includes('tenant-days ('));
    expect(progress.length, stderr).toBeGreaterThan(0);
    for (const line of progress) {
      expect(line).toMatch(
        /^pay-as-you-go settlement: \d+\/12 tenant-days \(\d+%, total estimated at start\), [\d.,]+\/s, (.+ left|time left unknown)$/,
      );
    }
    expect(lines.at(-1)).toMatch(/^pay-as-you-go settlement: done, 12 tenant-days in [\d.]+ s/);
  });
});
