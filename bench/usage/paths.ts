import pg from 'pg';
import { defaultPoolConfig, openDatabase } from '../../src/db/database.js';
import { createTenantClocks } from '../../src/modules/test-clocks/tenant-clocks.js';
import { ingestEvents } from '../../src/modules/usage/ingest-events.js';
import { buildBenchApp, listenLocally } from '../lib/app.js';
import { baselineStatement, type Batch } from './batches.js';
import { clock, type Path } from './config.js';

/** Each path's way of sending a batch: a bare INSERT, ingestEvents in process, or the HTTP endpoint. */

export interface Outcome {
  accepted: number;
  duplicates: number;
  rejected: number;
}

/** What one batch sent on one path counted; sends it the way that path does. */
export type SendBatch = (batch: Batch) => Promise<Outcome>;

/** Opens `path` on the database at `url` with as many connections as clients; `close` releases it all. */
export const openPath = async (
  url: string,
  path: Path,
  clients: number,
  authorization: string,
): Promise<{ sendBatch: SendBatch; close: () => Promise<void> }> => {
  if (path === 'baseline') {
    const pool = new pg.Pool({ connectionString: url, max: clients, application_name: 'bench-usage-baseline' });
    return {
      sendBatch: async (batch) => {
        const { rowCount } = await pool.query(baselineStatement(batch.events.length), batch.baselineParameters);
        const accepted = rowCount ?? 0;
        return { accepted, duplicates: batch.events.length - accepted, rejected: 0 };
      },
      close: () => pool.end(),
    };
  }
  const handle = await openDatabase({ kind: 'server', url, pool: { ...defaultPoolConfig, max: clients } });
  if (path === 'in-process') {
    const tenantClocks = createTenantClocks(handle.db, clock);
    return {
      sendBatch: async (batch) => ingestEvents(handle.db, { clock, tenantClocks }, batch.events),
      close: () => handle.close(),
    };
  }
  const app = await buildBenchApp(handle, clock);
  const port = await listenLocally(app);
  const endpoint = `http://127.0.0.1:${port}/billing/usage/events`;
  return {
    sendBatch: async (batch) => {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: batch.httpBody,
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`http c${clients}: ${response.status} ${text.slice(0, 300)}`);
      return (JSON.parse(text) as { data: Outcome }).data;
    },
    close: async () => {
      await app.close();
      await handle.close();
    },
  };
};
