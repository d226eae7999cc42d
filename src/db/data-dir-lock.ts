import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const lockFileName = 'billing.lock';

export class DataDirLockedError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `the embedded database in ${dataDir} is in use by process ${pid}: stop it first, or set BILLING_DATA_DIR to another folder`,
    );
    this.name = 'DataDirLockedError';
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const holderOf = (path: string): number | undefined => {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

/**
 * PGlite is one process's database: two processes on one data folder would corrupt it. The
 * folder is claimed with a lock file holding the owner's pid; a lock left by a dead process is
 * taken over. Returns the release function.
 */
export const lockDataDir = (dataDir: string): (() => void) => {
  const path = join(dataDir, lockFileName);
  for (;;) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = holderOf(path);
      if (holder !== undefined && isAlive(holder)) throw new DataDirLockedError(dataDir, holder);
      rmSync(path, { force: true });
    }
  }
};
