import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Db } from '../db/database.js';
import type { TestApp } from './test-app.js';

/**
 * Starts `count` calls before awaiting any: on a server database each runs on a connection of its
 * own, so first requests really race (on the embedded database they queue, and must pass too).
 */
export const atOnce = <T>(count: number, start: (index: number) => Promise<T>): Promise<T[]> =>
  Promise.all(Array.from({ length: count }, (_, index) => start(index)));

/**
 * Has the pool open `count` connections (a fresh pool opens them as requests come, slowly enough
 * that the first request of a race is often done before the last starts): call it before racing.
 */
export const openConnections = async (db: Db, count: number): Promise<void> => {
  await atOnce(count, () => sql`select pg_sleep(0.05)`.execute(db));
};

/** How many responses got each status, e.g. `{ 201: 1, 409: 7 }`; fails on any 5xx, naming its body. */
export const statusCounts = (responses: readonly LightMyRequestResponse[]): Record<number, number> => {
  expect(
    responses.filter((response) => response.statusCode >= 500).map((response) => response.body),
    'no request may fail with a 5xx',
  ).toEqual([]);
  const counts: Record<number, number> = {};
  for (const response of responses) counts[response.statusCode] = (counts[response.statusCode] ?? 0) + 1;
  return counts;
};

/** Every page of a list route, `pageSize` at a time, in the order served; checks the totals agree. */
export const everyPage = async <Item>(
  t: TestApp,
  url: string,
  headers: Record<string, string>,
  pageSize: number,
): Promise<Item[]> => {
  const items: Item[] = [];
  let total: number | undefined;
  for (let page = 1; ; page += 1) {
    const response = await t.app.inject({
      url: `${url}${url.includes('?') ? '&' : '?'}page=${page}&page_size=${pageSize}`,
      headers,
    });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<{ items: Item[]; total: number }>();
    expect(body.total).toBe(total ?? body.total);
    total = body.total;
    items.push(...body.items);
    if (body.items.length < pageSize) break;
  }
  expect(items.length).toBe(total);
  return items;
};
