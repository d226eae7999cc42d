import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** The export read over HTTP to its end, and the process's memory sampled while it streams. */

const sampleEveryMs = 50;

export const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));

/**
 * Peak RSS and heap over a stretch of work, sampled on a timer, with a point a second (and the
 * bytes read by then): a bounded stream plateaus, a leak climbs with the bytes.
 */
export const sampleMemory = (bytesSoFar: () => number) => {
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

export interface Download {
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
export const bytesReadSoFar = (): number => bytesRead;

/** POSTs the export and reads the body to its end (or `abortAfter` bytes), keeping only its ends. */
export const download = (
  port: number,
  authorization: string,
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
        headers: { authorization, 'content-type': 'application/json' },
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
