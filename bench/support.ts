import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

/**
 * What every scenario shares: the server it may create and drop databases on, connections,
 * server facts, CPU watching and plain-text tables.
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

/** The same server, another database. */
export const databaseUrl = (serverUrl: string, name: string): string => {
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

/** Busy and total CPU time of the whole machine so far, in ms. */
const machineCpuMs = (): { busy: number; total: number } =>
  cpus().reduce(
    (sum, { times }) => {
      const total = times.user + times.nice + times.sys + times.idle + times.irq;
      return { busy: sum.busy + total - times.idle, total: sum.total + total };
    },
    { busy: 0, total: 0 },
  );

export interface CpuUse {
  /** Cores this process used on average. */
  nodeCores: number;
  /** Share of the whole machine's CPU time that was busy (PostgreSQL, this process, anything else). */
  machineBusy: number;
}

/** Starts watching CPU use; the returned function tells the use since the call. */
export const watchCpu = (): (() => CpuUse) => {
  const node = process.cpuUsage();
  const machine = machineCpuMs();
  const started = performance.now();
  return () => {
    const used = process.cpuUsage(node);
    const now = machineCpuMs();
    return {
      nodeCores: Number(((used.user + used.system) / 1000 / (performance.now() - started)).toFixed(2)),
      machineBusy: Number(((now.busy - machine.busy) / Math.max(1, now.total - machine.total)).toFixed(2)),
    };
  };
};

/** A number for a table cell: `-` when there is none. */
export const fmt = (value: number | null | undefined, digits = 0): string =>
  value !== null && value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '-';

/** A plain-text table, columns padded to their widest cell. */
export const table = (header: string[], rows: string[][]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
};
