import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomToken } from '../../src/core/ids.js';
import { createEmptyDatabase, dropDatabase } from '../lib/server.js';
import { fmt } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';

const execFileAsync = promisify(execFile);

export interface PgbenchResult {
  clients: number;
  threads: number;
  tps: number;
  transactions: number;
  latencyMs: number;
  failed: number;
}

/** pgbench's tpcb-like at each client count on a scratch database of scale 10, dropped afterwards. */
export const runPgbench = async (
  serverUrl: string,
  clientCounts: number[],
  runSeconds: number,
): Promise<{ initMs: number; results: PgbenchResult[] }> => {
  const name = `ledger_bench_pgbench_${randomToken(8)}`;
  const url = await createEmptyDatabase(serverUrl, name);
  try {
    const init = stopwatch();
    await execFileAsync('pgbench', ['-i', '-s', '10', '-q', url]);
    const initMs = init.ms();
    console.log(`pgbench -i -s 10: ${fmt(initMs / 1000, 1)} s`);
    const results: PgbenchResult[] = [];
    for (const clients of clientCounts) {
      const { stdout } = await execFileAsync('pgbench', [
        '-c',
        String(clients),
        '-j',
        '2',
        '-T',
        String(runSeconds),
        '-b',
        'tpcb-like',
        url,
      ]);
      const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? Number.NaN);
      const result: PgbenchResult = {
        clients,
        // pgbench runs no more threads than clients: -c 1 -j 2 is one thread.
        threads: number(/number of threads: (\d+)/),
        tps: number(/tps = ([\d.]+)/),
        transactions: number(/number of transactions actually processed: (\d+)/),
        latencyMs: number(/latency average = ([\d.]+) ms/),
        failed: number(/number of failed transactions: (\d+)/) || 0,
      };
      if (!Number.isFinite(result.tps)) throw new Error(`could not read pgbench's tps from:\n${stdout}`);
      results.push(result);
      console.log(`  pgbench tpcb-like -c ${clients} -j 2 (${result.threads} threads): ${fmt(result.tps)} tps`);
    }
    return { initMs, results };
  } finally {
    await dropDatabase(serverUrl, name);
  }
};
