import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantAdmin } from '../testing/api.js';
import { expectNothingLeaked } from '../testing/envelopes.js';
import { givenTenant } from '../testing/fixtures.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';

/*
 * A unique violation no code path expected (a find-or-create that is not race-free) still answers
 * 409 conflict in the error envelope, never 500. Provoked for real: this test database alone has a
 * unique index the code does not know of, so the second key of the same name breaks it.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await givenTenant(t, 'tnt_unique');
  await sql`create unique index test_only_one_key_name on api_keys (tenant_id, name)`.execute(t.database.db);
});
afterAll(() => t.close());

describe('a unique violation that escapes', () => {
  it('answers 409 conflict in the envelope, with nothing of the database in it', async () => {
    const create = async () => asTenantAdmin(t, 'tnt_unique').post('/billing/api-keys/tnt_unique', { name: 'twice' });
    expect((await create()).statusCode).toBe(201);
    const duplicate = await create();
    expect(duplicate.statusCode, duplicate.body).toBe(409);
    expect(duplicate.json()).toEqual({
      code: 409,
      message: expect.stringContaining('unique') as string,
      error: { type: 'conflict', details: [] },
      timestamp: expect.any(String) as string,
      request_id: duplicate.headers['x-request-id'],
    });
    expectNothingLeaked(duplicate.body);
    expect(duplicate.body).not.toContain('test_only_one_key_name');
  });
});
