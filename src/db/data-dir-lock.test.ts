import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir, lockFileName } from './data-dir-lock.js';
import { openDatabase } from './database.js';

const dataDir = mkdtempSync(join(tmpdir(), 'billing-lock-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the embedded data folder lock', () => {
  it('lets one holder in at a time and frees the folder on release', () => {
    const release = lockDataDir(dataDir);
    expect(() => lockDataDir(dataDir)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dataDir)).toThrow(`in use by process ${process.pid}`);
    release();
    expect(existsSync(join(dataDir, lockFileName))).toBe(false);
    lockDataDir(dataDir)();
  });

  it('takes over a lock left by a process that is gone', () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(dataDir, lockFileName), `${gone}\n`);
    lockDataDir(dataDir)();
  });

  it('keeps a second embedded database off a folder that is open, and frees it on close', async () => {
    const folder = join(dataDir, 'db');
    const first = await openDatabase({ kind: 'embedded', dataDir: folder });
    await expect(openDatabase({ kind: 'embedded', dataDir: folder })).rejects.toThrow(DataDirLockedError);
    await first.close();
    const second = await openDatabase({ kind: 'embedded', dataDir: folder });
    await second.close();
  });
});
