import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportFields } from '../modules/compliance-export/seed-fields.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';

/** What the served document must say; `npm run openapi:lint` checks the rest against Redocly's rules. */

interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  schema: { default?: unknown };
}
interface Operation {
  operationId?: string;
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Schema {
  $ref?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: boolean;
}
interface Document {
  servers?: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

let t: TestApp;
let document: Document;
let operations: [string, Operation][];

beforeAll(async () => {
  t = await createTestApp();
  document = (await t.app.inject('/openapi.json')).json<Document>();
  operations = Object.entries(document.paths).flatMap(([path, byMethod]) =>
    Object.entries(byMethod).map(([method, operation]): [string, Operation] => [`${method} ${path}`, operation]),
  );
});
afterAll(() => t.close());

const resolve = (schema: Schema): Schema =>
  schema.$ref === undefined ? schema : resolve(document.components.schemas[schema.$ref.split('/').pop()!]!);

/** Every schema object in a part of the document, with where it is. */
const schemasIn = (value: unknown, at: string): [string, Record<string, unknown>][] => {
  if (value === null || typeof value !== 'object') return [];
  const here: [string, Record<string, unknown>][] = [[at, value as Record<string, unknown>]];
  return here.concat(...Object.entries(value).map(([key, item]) => schemasIn(item, `${at}/${key}`)));
};

describe('the OpenAPI document', () => {
  it('names every operation with a unique camelCase operationId that starts with a verb', () => {
    const ids = operations.map(([where, operation]) => [where, operation.operationId]);
    expect(ids.filter(([, id]) => id === undefined || !/^[a-z]+(?:[A-Z][a-z0-9]*)+$/.test(id))).toEqual([]);
    expect(new Set(ids.map(([, id]) => id)).size).toBe(operations.length);
  });

  it('marks no query parameter required that has a default: page and page_size are optional', () => {
    const lists = operations.filter(([, operation]) => operation.parameters?.some((p) => p.name === 'page'));
    expect(lists.length).toBeGreaterThanOrEqual(12);
    const forced = operations.flatMap(([where, operation]) =>
      (operation.parameters ?? [])
        .filter((parameter) => parameter.required === true && parameter.schema.default !== undefined)
        .map((parameter) => `${where} ${parameter.name}`),
    );
    expect(forced).toEqual([]);
    for (const [, operation] of lists) {
      const page = operation.parameters?.find((parameter) => parameter.name === 'page_size');
      expect(page?.schema.default).toBe(20);
    }
  });

  it('requires no body field that has a default', () => {
    const forced = operations.flatMap(([where, operation]) =>
      schemasIn(operation.requestBody, where).flatMap(([at, schema]) => {
        const properties = (schema.properties ?? {}) as Record<string, { default?: unknown }>;
        // `required` of a schema object lists names; a request body's own `required` is a boolean.
        const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
        return required.filter((name) => properties[name]?.default !== undefined).map((name) => `${at} ${name}`);
      }),
    );
    expect(forced).toEqual([]);
  });

  it("documents the export's items as the seed's DTOs: exactly their fields, all of them required", () => {
    const tenant = resolve(
      document.paths['/internal/billing/export-user-data']!.post!.responses['200']!.content!['application/json']!
        .schema,
    ).properties!.data!.properties!.tenants!.items!;
    const fieldsOf = (schema: Schema) => {
      const item = resolve(schema.items ?? schema);
      expect(item.additionalProperties).toBe(false);
      expect(Object.keys(item.properties!).sort()).toEqual([...(item.required ?? [])].sort());
      return Object.keys(item.properties!).sort();
    };
    const kinds = tenant.properties!;
    expect(fieldsOf(kinds.subscriptions!)).toEqual([...exportFields.subscription].sort());
    expect(fieldsOf(kinds.billing_records!)).toEqual([...exportFields.billingRecord].sort());
    expect(fieldsOf(resolve(kinds.billing_records!.items!).properties!.line_items!)).toEqual(
      [...exportFields.lineItem].sort(),
    );
    expect(fieldsOf(kinds.credit_balance!)).toEqual([...exportFields.creditBalance].sort());
    expect(fieldsOf(kinds.credit_transactions!)).toEqual([...exportFields.creditTransaction].sort());
    expect(fieldsOf(kinds.usage_stats!)).toEqual([...exportFields.usageStats].sort());
    expect(fieldsOf(kinds.usage_alerts!)).toEqual([...exportFields.usageAlert].sort());
    expect(fieldsOf(kinds.metering_records!)).toEqual([...exportFields.meteringRecord].sort());
  });

  it('is OpenAPI 3.0: exclusive bounds are booleans beside the bound, public routes say security []', () => {
    const numericExclusive = schemasIn(document, '#').filter(
      ([, schema]) => typeof schema.exclusiveMinimum === 'number' || typeof schema.exclusiveMaximum === 'number',
    );
    expect(numericExclusive.map(([at]) => at)).toEqual([]);
    const taxRate = document.paths['/admin/tenants']!.post!.requestBody!.content['application/json']!.schema.properties!
      .tax_rate as Record<string, unknown>;
    expect(taxRate).toMatchObject({ minimum: 0, maximum: 1, exclusiveMaximum: true });
    expect(operations.filter(([, operation]) => operation.security === undefined).map(([where]) => where)).toEqual([]);
    expect(document.paths['/healthz']!.get!.security).toEqual([]);
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it('lists the error envelope for the statuses every guarded operation can answer', () => {
    for (const [where, operation] of operations) {
      if (operation.security?.length === 0) continue;
      const statuses = Object.keys(operation.responses);
      expect(statuses, where).toEqual(expect.arrayContaining(['400', '401', '500', '503']));
      if (/^(post|put|patch|delete) /.test(where)) {
        expect(statuses, where).toEqual(expect.arrayContaining(['413', '415']));
      }
    }
  });
});
