/**
 * Compliance export of one user holding about a million rows: time, bytes, rows/s and the
 * process's peak RSS while the body streams, against the same rows serialised to JSON by
 * PostgreSQL itself and streamed out by `COPY … TO STDOUT` (psql, to /dev/null; baseline.ts): the
 * physical limit of reading them.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=export [--quick]
 *
 * Runs on the shared volume (bench/lib/volume.ts; loads its own when run alone): its export subject
 * administers the 1M-record tenant and the 10k one, with their ledgers and usage rollups. The app
 * listens on 127.0.0.1 and POST /internal/billing/export-user-data is read to the end with a
 * service token, counting bytes and discarding them, while process.memoryUsage().rss is sampled
 * every 50 ms (download.ts). The export's completed audit row must count every row the database
 * holds for the user (verify.ts). Last, an export whose client goes away after the first megabyte
 * shows what the audit log keeps of it. Run with --max-old-space-size=64 (README, "Export"), a
 * body that were kept whole would fail. Writes bench/results/export-rss.json.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../src/core/clock.js';
import { defaultPoolConfig, openDatabase } from '../../src/db/database.js';
import { bearer, buildBenchApp, listenLocally } from '../lib/app.js';
import { loadAverages } from '../lib/cpu.js';
import { writeResults } from '../lib/results.js';
import { quickMode, requireServerUrl } from '../lib/server.js';
import { stopwatch } from '../lib/timing.js';
import { openVolume } from '../lib/volume.js';
import { baselineSeconds } from './baseline.js';
import { bytesReadSoFar, download, mb, sampleMemory } from './download.js';
import { auditEvents, expectedCounts, verifyExport } from './verify.js';

requireServerUrl('export-rss');
const quick = quickMode();
/** The heap cap this run was given (--max-old-space-size), in MB. */
const oldSpaceMb: string | null =
  /--max-old-space-size=(\d+)/.exec([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' '))?.[1] ?? null;
const abortAfterBytes = 1_000_000;

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const loadAtStart = loadAverages();
  const volume = await openVolume(quick);
  const userId = volume.spec.exportUserId;
  try {
    const { lines, ...expected } = await expectedCounts(volume.url, userId);
    const clock = new ManualClock('2026-02-01T00:00:00Z');
    const handle = await openDatabase({ kind: 'server', url: volume.url, pool: defaultPoolConfig });
    const app = await buildBenchApp(handle, clock);
    try {
      const port = await listenLocally(app);
      const authorization = await bearer({ userId: 'svc_bench_export', roles: ['service'] }, clock);

      // Settle before measuring: the load's garbage is collected, and the RSS read is the idle one.
      await sleep(1_000);
      const before = process.memoryUsage();
      const sampler = sampleMemory(bytesReadSoFar);
      const result = await download(port, authorization, userId);
      const memory = sampler.stop();
      const counts = await verifyExport({ handle, result, requestedBy: 'svc_bench_export', userId, expected });
      const items = Object.values(counts).reduce((sum, n) => sum + n, 0);
      const seconds = result.ms / 1000;
      const baseline = await baselineSeconds(volume.url, userId);

      // A client that goes away after the first megabyte: what does the audit log keep of it?
      const abortAuthorization = await bearer({ userId: 'svc_bench_abort', roles: ['service'] }, clock);
      const aborted = await download(port, abortAuthorization, userId, abortAfterBytes);
      await sleep(2_000);
      const abortedEvents = await auditEvents(handle, 'svc_bench_abort');

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
  console.log(`total run time: ${elapsed.seconds().toFixed(1)} s`);
};

await main();
