/**
 * Invoice documents through the real server (its own process on 127.0.0.1), 8 concurrent requests:
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --only=documents [--quick]
 *
 * One CNY tenant (zh-CN) with BENCH_RECORDS finalised 20-line records and one 1,000-line record,
 * written in process by the record service; then over HTTP with a tenant viewer's token:
 *   - 20 lines, each rendered: every request a record not asked for before (a cold render);
 *   - 20 lines, one record: the same PDF again (the rendered bytes are reused by ETag);
 *   - 20 lines, If-None-Match: a client's current copy, answered 304 without rendering;
 *   - the 1,000-line record, alone: its first render, and the server's peak RSS after it.
 * Every answer must be 200 (304 for the revalidation) with a PDF body. Target (issue #20): 20 lines at
 * p50 ≤ 50 ms and p99 ≤ 200 ms at 8 concurrent requests; 1,000 lines under 2 s.
 * Knobs: BENCH_RECORDS=400 (quick 40), BENCH_CONCURRENCY=8.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { createApp } from '../../src/modules/apps/create-app.js';
import { createRecord } from '../../src/modules/billing-records/create-record.js';
import { createTenant } from '../../src/modules/tenants/create-tenant.js';
import { bearer, freePort, startServer } from '../lib/app.js';
import { get, type Answer } from '../lib/http.js';
import { run, type RunStats } from '../lib/closed-loop.js';
import { writeResults, type Headline } from '../lib/results.js';
import { announce } from '../lib/scenario.js';
import { createServerDatabase, quickMode, requireServerUrl } from '../lib/server.js';
import { fmt, table } from '../lib/table.js';
import { stopwatch } from '../lib/timing.js';

const serverUrl = requireServerUrl('documents');
const quick = quickMode();
const records = Number(process.env.BENCH_RECORDS ?? (quick ? 40 : 400));
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const clock = new ManualClock('2026-04-01T02:00:00Z');
const tenantId = 'tnt_bench_documents';
const appId = 'app_bench_documents';

const linesOf = (count: number) =>
  Array.from({ length: count }, (_, index) => ({
    description: index === 0 ? '专业版月度订阅 Professional plan' : `API 请求 overage, region cn-east-${index}`,
    resource_type: index === 0 ? 'subscription' : 'api_requests',
    quantity: index === 0 ? 1 : 12_345 * index,
    unit_price: index === 0 ? 99 : 0.0015,
  }));

const peakRssMb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
};

const main = async (): Promise<void> => {
  const elapsed = stopwatch();
  const { loadAtStart } = await announce(
    serverUrl,
    `${records} 20-line records and one of 1,000 lines, ${concurrency} concurrent requests`,
  );
  const target = await createServerDatabase();
  let server: ChildProcess | undefined;
  try {
    const db = target.database.db;
    const tenant = await createTenant(db, clock, {
      tenant_id: tenantId,
      name: '上海云杉科技有限公司',
      admin_user_id: 'usr_bench',
    });
    if (!tenant.ok) throw tenant.error;
    const app = await createApp({ db, clock, scope: { tenantId }, input: { app_id: appId, name: 'Bench app' } });
    if (!app.ok) throw app.error;
    const write = async (lines: number): Promise<string> => {
      const created = await db.transaction().execute((trx) =>
        createRecord({
          trx,
          clock,
          scope: { tenantId },
          actor: 'usr_bench',
          input: {
            app_id: appId,
            type: 'subscription',
            description: 'Professional plan',
            finalize: true,
            lines: linesOf(lines),
          },
        }),
      );
      if (!created.ok) throw created.error;
      return created.value.recordId;
    };
    const twenty: string[] = [];
    for (let n = 0; n < records; n += 1) twenty.push(await write(20));
    const long = await write(1000);

    const port = await freePort();
    server = await startServer(target.url, port, 8);
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    const headers = {
      authorization: await bearer({ userId: 'usr_bench', tenantId, roles: ['tenant_viewer'] }, systemClock),
    };
    const pdfPath = (recordId: string) => `/billing/records/${tenantId}/${recordId}/pdf`;
    const expectPdf = (answer: Answer, status = 200) => {
      const type = answer.headers['content-type'] ?? '';
      if (answer.status !== status || (status === 200 && (type !== 'application/pdf' || answer.body.length === 0))) {
        throw new Error(`answered ${answer.status} ${type} (${answer.body.length} bytes), expected ${status}`);
      }
    };
    // Warm the process (code paths, fonts) on the long record's neighbour, not on a measured one.
    const warm = await write(20);
    for (let n = 0; n < 3; n += 1) expectPdf(await get(agent, port, pdfPath(warm), headers));

    let next = 0;
    const cold = await run(
      async () => expectPdf(await get(agent, port, pdfPath(twenty[next++]!), headers)),
      records,
      concurrency,
      120_000,
    );
    const cached = await run(
      async () => expectPdf(await get(agent, port, pdfPath(twenty[0]!), headers)),
      records,
      concurrency,
      60_000,
    );
    const etag = String((await get(agent, port, pdfPath(twenty[0]!), headers)).headers.etag);
    const revalidated = await run(
      async () => expectPdf(await get(agent, port, pdfPath(twenty[0]!), { ...headers, 'if-none-match': etag }), 304),
      records,
      concurrency,
      60_000,
    );
    const rssBefore = peakRssMb(server.pid!);
    const started = performance.now();
    const longAnswer = await get(agent, port, pdfPath(long), headers);
    expectPdf(longAnswer);
    const longMs = performance.now() - started;
    const rssAfter = peakRssMb(server.pid!);
    agent.destroy();

    const row = (name: string, stats: RunStats) => [
      name,
      fmt(stats.requests),
      fmt(stats.rps),
      `${stats.p50Ms}`,
      `${stats.p99Ms}`,
    ];
    console.log(
      table(
        ['20-line invoice PDF', 'requests', 'req/s', 'p50 ms', 'p99 ms'],
        [
          row('each rendered (cold)', cold),
          row('one record (bytes reused)', cached),
          row('If-None-Match → 304', revalidated),
        ],
      ),
    );
    console.log(
      `1,000-line invoice: ${fmt(Math.round(longMs))} ms, ${fmt(Math.round(longAnswer.body.length / 1024))} KB; server peak RSS ${Math.round(rssBefore)} → ${Math.round(rssAfter)} MB`,
    );
    const headlines: Headline[] = [
      {
        measure: `20-line PDF, each rendered, ${concurrency} concurrent`,
        value: cold.p50Ms,
        unit: 'ms p50',
        better: 'lower',
        note: `p99 ${cold.p99Ms} ms, ${cold.rps} req/s; the same record again: p50 ${cached.p50Ms} / p99 ${cached.p99Ms} ms; 304: p50 ${revalidated.p50Ms} ms`,
        baseline: { what: 'target p50', value: 50 },
      },
      {
        measure: '1,000-line PDF, first render',
        value: Math.round(longMs),
        unit: 'ms',
        better: 'lower',
        note: `server peak RSS ${Math.round(rssAfter)} MB`,
        baseline: { what: 'target', value: 2000 },
      },
    ];
    const out = writeResults('documents', loadAtStart, headlines, {
      records,
      concurrency,
      cold,
      cached,
      revalidated,
      longMs: Math.round(longMs),
      longBytes: longAnswer.body.length,
      peakRssMb: { before: Math.round(rssBefore), after: Math.round(rssAfter) },
    });
    console.log(`wrote ${out} in ${elapsed.seconds().toFixed(0)} s`);
  } finally {
    if (server !== undefined && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    await target.database.close();
  }
};

await main();
