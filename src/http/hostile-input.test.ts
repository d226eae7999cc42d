import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { noRateLimits } from '../config.js';
import type { Access } from './route-access.js';
import { expectErrorEnvelope } from '../testing/envelopes.js';
import { givenApiKey, givenApp, givenTenant } from '../testing/fixtures.js';
import { concrete, sampleFor, type JsonSchema } from '../testing/schema-samples.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';

/**
 * Every operation of the served OpenAPI document, sent by a caller it lets in, with one hostile
 * value at a time in each body field, path and query parameter and header: never a 5xx, always
 * the documented envelope.
 */
let t: TestApp;
let spec: {
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, JsonSchema> };
};
let apiKey: string;

interface OperationObject {
  parameters?: { name: string; in: 'path' | 'query' | 'header'; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses?: Record<string, { content?: Record<string, unknown> }>;
}

const tenantId = 'tnt_alpha';
/**
 * Values by name that the schemas alone do not give: entities that exist (made in `beforeAll`, or
 * by an earlier operation's sampled request), the detail list's dates, fields checked in code.
 */
const known: Record<string, unknown> = {
  tenant_id: tenantId,
  app_id: 'app_alpha',
  plan_id: 'plan_alpha',
  monthly_price: 10,
  resource_type: 'api_calls',
  notification_channels: 'in_app',
  startDate: '20260101',
  endDate: '20260101',
  // Events are free-form in the schema and checked one by one in code.
  events: [
    {
      event_id: 'evt_hostile',
      tenant_id: tenantId,
      app_id: 'app_alpha',
      resource_type: 'api_calls',
      quantity: 1,
      timestamp: '2026-01-01T00:00:00Z',
      properties: { region: 'cn' },
    },
  ],
};

const components = () => spec.components?.schemas ?? {};

const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
const hugeArray = `[${new Array(100_000).fill('0').join(',')}]`;
const longText = 'a'.repeat(10_000);

/**
 * Hostile JSON texts for a body field, one of each kind its type calls for. A huge array only
 * where an array belongs (elsewhere it is one more wrong type, and 200 KB to parse).
 */
const hostileJson = (schema: JsonSchema, sample?: unknown): string[] => {
  const type = concrete(schema, components()).type ?? (Array.isArray(sample) ? 'array' : typeof sample);
  const wrongType: Record<string, string> = {
    string: '12345',
    number: '"1"',
    integer: '"1"',
    boolean: '"true"',
    object: '[]',
    array: '{}',
  };
  const byType: Record<string, string[]> = {
    string: [JSON.stringify(longText), '"a\\u0000b"'],
    number: ['1e309', '-1e309', '-0', '1e300', '0.1e-320'],
    integer: ['1e309', '-0', '9007199254740993', '1.5'],
    array: [hugeArray],
    object: ['{"a\\u0000b":1}'],
  };
  return ['null', deep, wrongType[type] ?? '"x"', ...(byType[type] ?? [])];
};

const hostilePathValues = (sample: string) => [
  longText,
  `${sample}${'a'.repeat(90)}`,
  '%00',
  `${sample}%00`,
  '%zz',
  '-0',
  '1e309',
  '%F0%9F%92%A9',
];
const hostileQueryValues = [longText, '%00', '1e309', '-0', '-1', 'abc', '%zz', '%F0%9F%92%A9'];
const hostileHeaderValues = [longText, ' ', '\u00e9', '0'.repeat(256)];

interface Field {
  path: (string | number)[];
  schema: JsonSchema;
  sample: unknown;
}

/** Every field a body schema declares, and every field its sample has (for free-form parts). */
const fieldsOf = (schema: JsonSchema, value: unknown, path: (string | number)[] = []): Field[] => {
  if (path.length > 8) return [];
  const resolved = concrete(schema, components());
  const fields: Field[] = [];
  if (resolved.type === 'array' || Array.isArray(value)) {
    const itemPath = [...path, 0];
    const item = resolved.items ?? {};
    const sample = (value as unknown[] | undefined)?.[0];
    fields.push({ path: itemPath, schema: item, sample }, ...fieldsOf(item, sample, itemPath));
  } else if (resolved.type === 'object' || (typeof value === 'object' && value !== null)) {
    const keys = new Set([
      ...Object.keys(resolved.properties ?? {}),
      ...Object.keys((value as object | undefined) ?? {}),
    ]);
    for (const key of keys) {
      const child = resolved.properties?.[key] ?? {};
      const childValue = (value as Record<string, unknown> | undefined)?.[key];
      fields.push(
        { path: [...path, key], schema: child, sample: childValue },
        ...fieldsOf(child, childValue, [...path, key]),
      );
    }
  }
  return fields;
};

const marker = 'HOSTILE_VALUE_MARKER';

/** The sample body as JSON text with the value at `path` replaced by a raw JSON text. */
const bodyWith = (sample: unknown, path: (string | number)[], rawJson: string): string => {
  if (path.length === 0) return rawJson;
  const body = structuredClone(sample) as Record<string | number, unknown>;
  let container: Record<string | number, unknown> = body;
  path.forEach((key, index) => {
    if (index === path.length - 1) {
      container[key] = marker;
      return;
    }
    const next = container[key];
    if (next === null || typeof next !== 'object') container[key] = typeof path[index + 1] === 'number' ? [] : {};
    container = container[key] as Record<string | number, unknown>;
  });
  return JSON.stringify(body).replace(`"${marker}"`, () => rawJson);
};

let requestCount = 0;
const maxFailures = 20;
const failures: string[] = [];

/**
 * An error in the envelope; a success as the document lists it: JSON, or another media type the
 * operation answers with (an invoice's PDF or page), or nothing (304).
 */
const check = (response: LightMyRequestResponse, label: string, operation: OperationObject) => {
  const summary = `${label} → ${response.statusCode} ${response.body.slice(0, 200)}`;
  if (response.statusCode >= 500) {
    failures.push(summary);
    return;
  }
  try {
    if (response.statusCode >= 400) expectErrorEnvelope(response);
    else if (response.statusCode === 304) expect(operation.responses?.['304']).toBeDefined();
    else {
      const listed = Object.keys(operation.responses?.[String(response.statusCode)]?.content ?? {});
      const mediaType = String(response.headers['content-type']).split(';')[0];
      expect(listed.length === 0 ? ['application/json'] : listed).toContain(mediaType);
    }
  } catch (error) {
    failures.push(`${summary}: ${(error as Error).message.slice(0, 300)}`);
  }
};

const headersFor = async (access: Access): Promise<Record<string, string>> => {
  if (access.kind === 'service') return t.as.service();
  if (access.kind === 'api_key') return { 'df-api-key': apiKey };
  if (access.kind === 'public') return {};
  return t.as.platformAdmin();
};

beforeAll(async () => {
  // About 1,800 requests from one token at one frozen instant: limits would answer most of them
  // 429 before the hostile values reach a handler (the limiter has its own tests).
  t = await createTestApp({ rateLimits: noRateLimits });
  await givenTenant(t, tenantId);
  await givenApp(t, tenantId, 'app_alpha');
  const key = await givenApiKey(t, tenantId);
  apiKey = key.key;
  known.key_id = key.id;
  const admin = await t.as.platformAdmin();
  const record = await t.app.inject({
    method: 'POST',
    url: `/admin/records/${tenantId}`,
    headers: { ...admin, 'idempotency-key': 'hostile-setup' },
    payload: {
      type: 'one_time',
      description: 'setup',
      lines: [{ description: 'setup', resource_type: 'api_calls', quantity: 1, unit_price: 1 }],
      finalize: true,
    },
  });
  expect(record.statusCode, record.body).toBe(201);
  known.record_id = record.json<{ data: { record_id: string } }>().data.record_id;
  const alert = await t.app.inject({
    method: 'POST',
    url: `/billing/usage-alerts/${tenantId}`,
    headers: admin,
    payload: { name: 'setup', resource_type: 'api_calls', threshold_percent: 80, notification_channels: 'in_app' },
  });
  expect(alert.statusCode, alert.body).toBe(201);
  known.alert_id = alert.json<{ data: { id: string } }>().data.id;
  spec = (await t.app.inject('/openapi.json')).json();
});
afterAll(() => t.close());

it('no operation answers a hostile request with a 5xx or outside the envelope', async () => {
  const operations = Object.entries(spec.paths)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
    )
    // Deletions last, so the entities the others use live until the end.
    .sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
  expect(operations.length).toBeGreaterThan(50);
  let sampledAccepted = 0;

  for (const { path, method, operation } of operations) {
    const route = t.app.accessCatalog.find(
      (entry) => entry.method === method && entry.url === path.replace(/\{([^}]+)\}/g, ':$1'),
    );
    expect(route, `${method} ${path} in the access catalog`).toBeDefined();
    const caller = await headersFor(route!.access);
    const parameters = operation.parameters ?? [];
    const sampleOf = (name: string, schema: JsonSchema) => String(sampleFor(schema, components(), known, name));
    const pathValues = Object.fromEntries(
      parameters.filter((p) => p.in === 'path').map((p) => [p.name, encodeURIComponent(sampleOf(p.name, p.schema))]),
    );
    // Query parameters are optional but for the detail list's dates, which are known.
    const queryValues: Record<string, string[]> = {};
    for (const parameter of parameters.filter((p) => p.in === 'query' && known[p.name] !== undefined)) {
      queryValues[parameter.name] = [encodeURIComponent(sampleOf(parameter.name, parameter.schema))];
    }
    const bodySchema = operation.requestBody?.content['application/json']?.schema;
    const sampleBody = bodySchema === undefined ? undefined : sampleFor(bodySchema, components(), known);

    const send = async (
      label: string,
      change: {
        path?: Record<string, string>;
        query?: Record<string, string[]>;
        headers?: Record<string, string>;
        body?: string;
      },
    ) => {
      const url = path.replace(/\{([^}]+)\}/g, (_, name: string) => change.path?.[name] ?? pathValues[name]!);
      const query = Object.entries({ ...queryValues, ...change.query })
        .flatMap(([name, values]) => values.map((value) => `${name}=${value}`))
        .join('&');
      // Enough to show a defect; on code that has one, each may be slow (a stack overflow).
      if (failures.length >= maxFailures) return;
      requestCount += 1;
      const body = change.body ?? (sampleBody === undefined ? undefined : JSON.stringify(sampleBody));
      const options: InjectOptions = {
        method,
        url: query === '' ? url : `${url}?${query}`,
        headers: {
          ...caller,
          // Each request its own key, so each runs rather than replaying or clashing with another.
          'idempotency-key': `hostile-${requestCount}`,
          ...change.headers,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload: body }),
      };
      const response = await t.app.inject(options);
      check(response, `${method} ${path} ${label}`, operation);
      return response.statusCode;
    };

    if (((await send('as sampled', {})) ?? 500) < 300) sampledAccepted += 1;
    for (const parameter of parameters) {
      const values =
        parameter.in === 'path'
          ? hostilePathValues(sampleOf(parameter.name, parameter.schema))
          : parameter.in === 'query'
            ? hostileQueryValues
            : hostileHeaderValues;
      for (const value of values) {
        const shown = `${parameter.in} ${parameter.name}=${value.slice(0, 20)}`;
        if (parameter.in === 'path') await send(shown, { path: { [parameter.name]: value } });
        if (parameter.in === 'query') await send(shown, { query: { [parameter.name]: [value] } });
        if (parameter.in === 'header') await send(shown, { headers: { [parameter.name]: value } });
      }
      if (parameter.in === 'query')
        await send(`query ${parameter.name} twice`, { query: { [parameter.name]: ['1', '2'] } });
    }
    if (bodySchema === undefined) continue;
    for (const raw of [hugeArray, ...hostileJson(bodySchema)]) await send(`body=${raw.slice(0, 20)}`, { body: raw });
    for (const field of fieldsOf(bodySchema, sampleBody)) {
      for (const raw of hostileJson(field.schema, field.sample)) {
        await send(`body ${field.path.join('.')}=${raw.slice(0, 20)}`, { body: bodyWith(sampleBody, field.path, raw) });
      }
    }
  }
  expect(failures).toEqual([]);
  expect(requestCount).toBeGreaterThan(1000);
  // The hostile values reach the handlers only if the requests they vary are otherwise valid.
  expect(sampledAccepted).toBeGreaterThan(45);
}, 120_000);
