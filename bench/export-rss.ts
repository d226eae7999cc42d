/**
 * Compliance export of one user holding about a million rows: time, bytes, rows/s and the
 * process's peak RSS while the body streams, against the same rows serialised to JSON by
 * PostgreSQL itself and streamed out by `COPY … TO STDOUT` (psql, to /dev/null): the physical
 * limit of reading them.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=export [--quick]
 *
 * Runs on the shared volume (bench/volume.ts; loads its own when run alone): its export subject
 * administers the 1M-record tenant and the 10k one, with their ledgers and usage rollups. The app
 * listens on 127.0.0.1 and POST /internal/billing/export-user-data is read to the end with a
 * service token, counting bytes and discarding them, while process.memoryUsage().rss is sampled
 * every 50 ms. The export's completed audit row must count every row the database holds for the
 * user. Last, an export whose client goes away after the first megabyte shows what the audit log
 * keeps of it. `npm run bench` runs it with --max-old-space-size=64: a body that were kept whole
 * would fail there. Writes bench/results/export-rss.json.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../src/core/clock.js';
import { defaultPoolConfig, openDatabase } from '../src/db/database.js';
import { noRateLimits } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { createTokenVerifier, mintToken } from '../src/modules/auth/tokens.js';
import { loadAverages, writeResults } from './measure.js';
import { quickMode, requireServerUrl, withClient } from './support.js';
import { openVolume } from './volume.js';

requireServerUrl('export-rss');
const quick = quickMode();
const sampleEveryMs = 50;
/** The heap cap this run was given (--max-old-space-size), in MB. */
const oldSpaceMb: string | null =
  /--max-old-space-size=(\d+)/.exec([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' '))?.[1] ?? null;
const abortAfterBytes = 1_000_000;
const secret = 'bench-secret-that-is-at-least-32-bytes-long';

const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));

/** What the export must hold for the user's tenants, counted by the database. */
const expectedCountsSql = `
with mine as (select id from tenants where admin_user_id = $1)
select (select count(*) from billing_records where tenant_id in (select id from mine))::int as billing_records,
       (select count(*) from ledger_transactions t join ledger_entries e
          on e.tenant_id = t.tenant_id and e.transaction_id = t.id and e.account_id = 'cash'
        where t.tenant_id in (select id from mine))::int as credit_transactions,
       (select count(*) from (select distinct tenant_id, usage_date from usage_daily
                              where tenant_id in (select id from mine)) d)::int as usage_stats,
       (select count(*) from mine)::int as credit_balance,
       (select count(*) from billing_record_lines where tenant_id in (select id from mine))::int as lines`;

/** The same rows as JSON, made by the server: records with their lines, ledger transactions, usage days. */
const baselineCopySql = (userId: string): string => `copy (
  with mine as (select id from tenants where admin_user_id = '${userId}')
  select json_build_object('record', r, 'lines', (select json_agg(l order by l.line_no) from billing_record_lines l
                                                  where l.tenant_id = r.tenant_id and l.record_id = r.id))
  from billing_records r where r.tenant_id in (select id from mine)
  union all
  select json_build_object('transaction', t, 'balance_after', e.balance_after)
  from ledger_transactions t join ledger_entries e
    on e.tenant_id = t.tenant_id and e.transaction_id = t.id and e.account_id = 'cash'
  where t.tenant_id in (select id from mine)
  union all
  select json_build_object('date', usage_date, 'totals', json_object_agg(resource_type, quantity))
  from (select tenant_id, usage_date, resource_type, sum(quantity) as quantity from usage_daily
        where tenant_id in (select id from mine) group by 1, 2, 3) u
  group by tenant_id, usage_date
) to stdout`;

/** Seconds psql takes to stream the baseline COPY to /dev/null. */
const baselineSeconds = (url: string, userId: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', baselineCopySql(userId)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`psql exited with ${code}`)),
    );
  });

/**
 * Peak RSS and heap over a stretch of work, sampled on a timer, with a point a second (and the
 * bytes read by then): a bounded stream plateaus, a leak climbs with the bytes.
 */
const sampleMemory = (bytesSoFar: () => number) => {
  const startedAt = performance.now();
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  let samples = 0;
  const timeline: { s: number; rssMb: number; heapMb: number; readMb: number }[] = [];
  const take = () => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
    samples += 1;
    const s = Math.floor((performance.now() - startedAt) / 1000);
    if (timeline.length <= s)
      timeline.push({ s, rssMb: mb(usage.rss), heapMb: mb(usage.heapUsed), readMb: mb(bytesSoFar()) });
  };
  const timer = setInterval(take, sampleEveryMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return { peakRss, peakHeap, samples, timeline };
    },
  };
};

interface Download {
  status: number;
  bytes: number;
  chunks: number;
  head: string;
  tail: string;
  ms: number;
  aborted: boolean;
}

/** Bytes read so far by the download under way, for the memory timeline. */
let bytesRead = 0;

/** POSTs the export and reads the body to its end (or `abortAfter` bytes), keeping only its ends. */
const download = (
  port: number,
  token: string,
  userId: string,
  abortAfter = Number.POSITIVE_INFINITY,
): Promise<Download> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const body = JSON.stringify({ user_id: userId });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/internal/billing/export-user-data',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let bytes = 0;
        let chunks = 0;
        let head = '';
        let tail = '';
        const finish = (aborted: boolean) =>
          resolve({
            status: res.statusCode ?? 0,
            bytes,
            chunks,
            head,
            tail,
            ms: performance.now() - started,
            aborted,
          });
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          bytesRead = bytes;
          chunks += 1;
          if (head.length < 200) head += chunk.toString('utf8', 0, Math.min(chunk.length, 200));
          tail = (tail + chunk.toString('utf8', Math.max(0, chunk.length - 200))).slice(-200);
          if (bytes >= abortAfter) {
            req.destroy();
            finish(true);
          }
        });
        res.on('end', () => finish(false));
        res.on('error', (error) => (bytes >= abortAfter ? undefined : reject(error)));
      },
    );
    req.on('error', (error) => (abortAfter < Number.POSITIVE_INFINITY ? undefined : reject(error)));
    req.end(body);
  });

const main = async (): Promise<void> => {
  const started = performance.now();
  const loadAtStart = loadAverages();
  const volume = await openVolume(quick);
  const userId = volume.spec.exportUserId;
  try {
    const { lines, ...expected } = await withClient(volume.url, async (client) => {
      const { rows } = await client.query<Record<string, number>>(expectedCountsSql, [userId]);
      return rows[0] as Record<
        'billing_records' | 'credit_transactions' | 'usage_stats' | 'credit_balance' | 'lines',
        number
      >;
    });
    const clock = new ManualClock('2026-02-01T00:00:00Z');
    const handle = await openDatabase({ kind: 'server', url: volume.url, pool: defaultPoolConfig });
    const app = await buildApp({
      database: handle,
      clock,
      tokens: createTokenVerifier({ secret, clock }),
      logLevel: 'silent',
      version: 'bench',
      rateLimits: noRateLimits,
    });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      const token = await mintToken(secret, { userId: 'svc_bench_export', roles: ['service'] }, clock);

      // Settle before measuring: the load's garbage is collected, and the RSS read is the idle one.
      await sleep(1_000);
      const before = process.memoryUsage();
      const sampler = sampleMemory(() => bytesRead);
      const result = await download(port, token, userId);
      const memory = sampler.stop();
      if (result.status !== 200) throw new Error(`export: ${result.status} ${result.head}`);
      if (!result.head.startsWith('{"code":200') || !result.tail.endsWith('}')) {
        throw new Error(`the body does not look complete: ${result.head.slice(0, 80)} … ${result.tail.slice(-80)}`);
      }

      const audit = await handle.db
        .selectFrom('export_audit_log')
        .select(['id', 'event', 'row_counts'])
        .where('requested_by', '=', 'svc_bench_export')
        .where('user_id', '=', userId)
        .execute();
      const counts = (audit.find((row) => row.event === 'completed')?.row_counts ?? {}) as Record<string, number>;
      for (const [kind, n] of Object.entries(expected)) {
        if (counts[kind] !== n) throw new Error(`exported ${counts[kind]} ${kind}, expected ${n}`);
      }
      const items = Object.values(counts).reduce((sum, n) => sum + n, 0);
      const seconds = result.ms / 1000;
      const baseline = await baselineSeconds(volume.url, userId);

      // A client that goes away after the first megabyte: what does the audit log keep of it?
      const abortToken = await mintToken(secret, { userId: 'svc_bench_abort', roles: ['service'] }, clock);
      const aborted = await download(port, abortToken, userId, abortAfterBytes);
      await sleep(2_000);
      const abortedEvents = (
        await handle.db
          .selectFrom('export_audit_log')
          .select('event')
          .where('requested_by', '=', 'svc_bench_abort')
          .orderBy('event')
          .execute()
      ).map((row) => row.event);

      const figures = {
        maxOldSpaceSizeMb: oldSpaceMb === null ? null : Number(oldSpaceMb),
        seconds: Number(seconds.toFixed(1)),
        baselineSeconds: Number(baseline.toFixed(1)),
        bytes: result.bytes,
        mb: mb(result.bytes),
        chunks: result.chunks,
        items,
        lines,
        itemsPerSecond: Math.round(items / seconds),
        mbPerSecond: Number((mb(result.bytes) / seconds).toFixed(1)),
        rssBeforeMb: mb(before.rss),
        peakRssMb: mb(memory.peakRss),
        rssGrowthMb: mb(memory.peakRss - before.rss),
        heapBeforeMb: mb(before.heapUsed),
        peakHeapMb: mb(memory.peakHeap),
        samples: memory.samples,
        // Holding the body whole costs at least its bytes on top of the idle RSS (as one Buffer;
        // a JS string of it, or the objects it was built from, cost more).
        bufferedRssAtLeastMb: mb(before.rss + result.bytes),
      };
      console.log(
        `export of ${items.toLocaleString('en')} items (+${lines.toLocaleString('en')} lines): ` +
          `${figures.seconds} s, ${figures.mb} MB, ${figures.itemsPerSecond.toLocaleString('en')} items/s, ` +
          `${figures.mbPerSecond} MB/s; the same rows by COPY in ${figures.baselineSeconds} s`,
      );
      console.log(
        `RSS before ${figures.rssBeforeMb} MB, peak ${figures.peakRssMb} MB (+${figures.rssGrowthMb} MB; ` +
          `heap ${figures.heapBeforeMb} → peak ${figures.peakHeapMb} MB${oldSpaceMb === null ? '' : `, heap cap ${oldSpaceMb} MB`}); ` +
          `a buffered body would need ≥ ${figures.bufferedRssAtLeastMb} MB`,
      );
      console.log(
        `client gone after ${mb(aborted.bytes)} MB: audit events ${JSON.stringify(abortedEvents)}` +
          (abortedEvents.length < 2 ? ' (no end row: the export is left open in the log)' : ''),
      );

      const out = writeResults(
        'export-rss',
        loadAtStart,
        [
          {
            measure: `export of ${items.toLocaleString('en')} rows (+${lines.toLocaleString('en')} lines), ${figures.mb} MB`,
            value: figures.seconds,
            unit: 's',
            better: 'lower',
            note: `${figures.itemsPerSecond.toLocaleString('en')} rows/s`,
            baseline: { what: 'the same rows as JSON by COPY TO STDOUT', value: figures.baselineSeconds },
          },
          {
            measure: `peak RSS while streaming${oldSpaceMb === null ? '' : ` (heap cap ${oldSpaceMb} MB)`}`,
            value: figures.peakRssMb,
            unit: 'MB',
            better: 'lower',
            note: `${figures.rssBeforeMb} MB before`,
            baseline: { what: 'holding the body: RSS before + its bytes', value: figures.bufferedRssAtLeastMb },
          },
        ],
        {
          volume: volume.spec,
          rowCounts: counts,
          export: figures,
          clientGoneAfterBytes: { bytes: aborted.bytes, auditEvents: abortedEvents },
          memoryTimeline: memory.timeline,
        },
      );
      console.log(`figures written to ${out}`);
    } finally {
      await app.close();
      await handle.close();
    }
  } finally {
    await volume.release();
  }
  console.log(`total run time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
};

await main();
