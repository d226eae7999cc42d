import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/**
 * Runs `tick` on a connection of its own (named `applicationName`, so a watcher can leave itself
 * out) every `intervalMs` until stopped; with `tickOnStop`, once more as it stops.
 */
export const inBackground = (
  url: string,
  intervalMs: number,
  tick: (client: pg.Client) => Promise<void>,
  { applicationName, tickOnStop = false }: { applicationName: string; tickOnStop?: boolean },
): { stop: () => Promise<void> } => {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  const stopping = new AbortController();
  const loop = (async () => {
    await client.connect();
    try {
      while (!stopping.signal.aborted) {
        await tick(client);
        // Cut short by stop(), so a step's teardown does not wait out the interval.
        await sleep(intervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
      if (tickOnStop) await tick(client);
    } finally {
      await client.end();
    }
  })();
  return {
    stop: async () => {
      stopping.abort();
      await loop;
    },
  };
};
