import { expect } from 'vitest';
import type { TestApp } from './test-app.js';

export interface BillingEventView {
  id: string;
  type: string;
  tenant_id: string;
  app_id: string | null;
  created_at: string;
  data: Record<string, unknown>;
}

/** The tenant's events as the API lists them (as a platform admin), oldest first; `type` filters (`subscription.*`). */
export const eventsOf = async (t: TestApp, tenantId: string, type?: string): Promise<BillingEventView[]> => {
  const query = new URLSearchParams({ page_size: '100', ...(type === undefined ? {} : { type }) });
  const response = await t.app.inject({
    url: `/billing/events/${tenantId}?${query.toString()}`,
    headers: await t.as.platformAdmin(),
  });
  expect(response.statusCode, response.body).toBe(200);
  const { items, total } = response.json<{ items: BillingEventView[]; total: number }>();
  expect(total, 'more events than one page holds').toBe(items.length);
  return items.reverse();
};

/** The one event of `type` the tenant has, failing the test unless there is exactly one. */
export const onlyEvent = async (t: TestApp, tenantId: string, type: string): Promise<BillingEventView> => {
  const events = await eventsOf(t, tenantId, type);
  expect(events.map((event) => event.type)).toEqual([type]);
  return events[0]!;
};

/** The event types the tenant has, oldest first. */
export const eventTypesOf = async (t: TestApp, tenantId: string): Promise<string[]> =>
  (await eventsOf(t, tenantId)).map((event) => event.type);
