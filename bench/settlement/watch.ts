import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { inBackground } from '../lib/background.js';
import { watchCpu } from '../lib/cpu.js';
import { databaseNameOf, withClient } from '../lib/server.js';
import { autoanalyzeSeconds, serverUrl } from './config.js';

/**
 * What a step costs beyond its seconds, watched while it runs: CPU, cluster-wide WAL, what its
 * server sessions are doing, the autovacuum stand-in's analyzes, and sequential scans.
 */

/** The watchers' connections, left out of the session samples. */
const watcherName = 'bench-settlement-watch';

/** WAL written so far, cluster-wide (other databases on the server add to it). */
const walStats = (url: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{ records: string; bytes: string; syncs: string }>(
      `select wal_records::text as records, wal_bytes::text as bytes, wal_sync::text as syncs from pg_stat_wal`,
    );
    const row = rows[0]!;
    return { records: Number(row.records), bytes: Number(row.bytes), syncs: Number(row.syncs) };
  });

export interface SessionShare {
  state: string;
  share: number;
}

/**
 * Samples what the server sessions of one database are doing: on CPU (or runnable: the machine
 * has 2 cores), waiting on I/O or a lock, or idle in transaction (the server waits for the runner:
 * network, JavaScript, the next statement). Queries in the config-object form, which the
 * statement profile leaves out (it times the text form, which Kysely uses).
 */
const sampleSessions = (database: string): { stop: () => Promise<SessionShare[]> } => {
  const counts = new Map<string, number>();
  const watch = inBackground(
    serverUrl,
    50,
    async (client) => {
      const { rows } = await client.query<{ state: string }>({
        text: `select case when state = 'idle in transaction' then 'idle in transaction (waiting for the runner)'
                         when state = 'idle' then 'idle (between transactions)'
                         when wait_event is null then 'active: on CPU or runnable'
                         else 'active: waiting ' || wait_event_type || ':' || wait_event end as state
               from pg_stat_activity
              where datname = $1 and backend_type = 'client backend'
                and application_name <> '${watcherName}'`,
        values: [database],
      });
      for (const { state } of rows) counts.set(state, (counts.get(state) ?? 0) + 1);
    },
    { applicationName: watcherName },
  );
  return {
    stop: async () => {
      await watch.stop();
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      return [...counts.entries()]
        .map(([state, n]) => ({ state, share: Number((n / Math.max(1, total)).toFixed(3)) }))
        .sort((a, b) => b.share - a.share);
    },
  };
};

export interface Autoanalyze {
  runs: number;
  seconds: number;
  tables: Record<string, number>;
}

/**
 * Stands in for autovacuum's analyze, off on this server: every `autoanalyzeSeconds`, analyzes
 * each table changed by at least 50 rows + 10 % since its last analyze (autovacuum's defaults).
 */
const autoanalyze = (url: string): { stop: () => Promise<Autoanalyze> } => {
  const done: Autoanalyze = { runs: 0, seconds: 0, tables: {} };
  if (!(autoanalyzeSeconds > 0)) return { stop: async () => done };
  const watch = inBackground(
    url,
    autoanalyzeSeconds * 1000,
    async (client) => {
      const { rows } = await client.query<{ table: string }>({
        text: `select s.relname as table from pg_stat_user_tables s join pg_class c on c.oid = s.relid
              where s.n_mod_since_analyze >= 50 + 0.1 * greatest(c.reltuples, 0)`,
      });
      for (const { table } of rows) {
        const started = performance.now();
        await client.query({ text: `analyze ${table}` });
        done.runs += 1;
        done.seconds += (performance.now() - started) / 1000;
        done.tables[table] = (done.tables[table] ?? 0) + 1;
      }
    },
    { applicationName: watcherName },
  );
  return {
    stop: async () => {
      await watch.stop();
      return { ...done, seconds: Number(done.seconds.toFixed(2)) };
    },
  };
};

/** Sequential scans of the tables settlement writes (a foreign-key check planned on an empty table scans). */
export const seqScanStats = async (url: string): Promise<Record<string, { scans: number; tuplesRead: number }>> => {
  // A closed session's counters reach the statistics as it exits.
  await sleep(500);
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ table: string; scans: number; tuples_read: string }>(
      `select relname as table, seq_scan::int as scans, seq_tup_read::text as tuples_read from pg_stat_user_tables
        where relname in ('payg_settlements', 'payg_settlement_lines', 'payg_deductions', 'ledger_transactions',
                          'ledger_entries', 'billing_records')
        order by relname`,
    );
    return Object.fromEntries(
      rows.map((row) => [row.table, { scans: row.scans, tuplesRead: Number(row.tuples_read) }]),
    );
  });
};

export interface Timing {
  seconds: number;
  nodeCores: number;
  machineBusy: number;
  wal: { bytes: number; syncs: number };
  sessions: SessionShare[];
  autoanalyze: Autoanalyze;
}

export const measured = async (url: string, work: () => Promise<void>): Promise<Timing> => {
  const walBefore = await walStats(url);
  const sampler = sampleSessions(databaseNameOf(url));
  const analyzer = autoanalyze(url);
  let sessions: SessionShare[] = [];
  let analyzed: Autoanalyze = { runs: 0, seconds: 0, tables: {} };
  let seconds = Number.NaN;
  let cpuUse = { nodeCores: Number.NaN, machineBusy: Number.NaN };
  const cpu = watchCpu();
  const started = performance.now();
  try {
    await work();
    seconds = (performance.now() - started) / 1000;
    cpuUse = cpu();
  } finally {
    // Stopped whatever happened, so no watcher's connection outlives the step.
    sessions = await sampler.stop();
    analyzed = await analyzer.stop();
  }
  const walAfter = await walStats(url);
  return {
    seconds,
    ...cpuUse,
    wal: { bytes: walAfter.bytes - walBefore.bytes, syncs: walAfter.syncs - walBefore.syncs },
    sessions,
    autoanalyze: analyzed,
  };
};
