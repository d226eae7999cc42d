import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantAdmin } from '../../testing/api.js';
import { givenRecord, givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { RecordDetailView, RecordView } from '../../testing/views.js';
import { finalizeRecord } from './finalize-record.js';

const onServer = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const post = (url: string, payload?: Record<string, unknown>): Promise<LightMyRequestResponse> =>
  asPlatformAdmin(t).post(url, payload);

const oneLine = (description: string) => ({
  type: 'one_time',
  description,
  lines: [{ description, resource_type: 'setup', quantity: 1, unit_price: 10 }],
});

const createDraft = (tenantId: string, description = 'Draft'): Promise<RecordDetailView> =>
  givenRecord(t, tenantId, oneLine(description));

const finalize = async (tenantId: string, recordId: string): Promise<LightMyRequestResponse> =>
  post(`/admin/records/${tenantId}/${recordId}/finalize`);

const finalizeOk = async (tenantId: string, recordId: string): Promise<string> => {
  const response = await finalize(tenantId, recordId);
  expect(response.statusCode, response.body).toBe(200);
  const number = response.json<{ data: RecordDetailView }>().data.invoice_number;
  expect(number).not.toBeNull();
  return number!;
};

const numbersOf = async (tenantId: string): Promise<string[]> => {
  const rows = await t.database.db
    .selectFrom('billing_records')
    .select('invoice_number')
    .where('tenant_id', '=', tenantId)
    .where('invoice_number', 'is not', null)
    .orderBy('invoice_number')
    .execute();
  return rows.map((row) => row.invoice_number!);
};

const lastSeq = async (tenantId: string, year: number): Promise<number | undefined> =>
  (
    await t.database.db
      .selectFrom('invoice_sequences')
      .select('last_seq')
      .where('tenant_id', '=', tenantId)
      .where('year', '=', year)
      .executeTakeFirst()
  )?.last_seq;

const expected = (year: number, count: number, from = 1): string[] =>
  Array.from({ length: count }, (_, index) => `INV-${year}-${String(from + index).padStart(3, '0')}`);

describe('invoice numbers under concurrency', () => {
  it('40 drafts finalised at once get INV-2026-001 … INV-2026-040: unique and gapless', async () => {
    const tenantId = 'tnt_num_burst';
    await givenTenant(t, tenantId);
    t.clock.set('2026-02-10T09:00:00Z');
    const drafts = await Promise.all(Array.from({ length: 40 }, (_, index) => createDraft(tenantId, `Draft ${index}`)));
    for (const draft of drafts) expect(draft).toMatchObject({ status: 'draft', invoice_number: null });
    expect(await numbersOf(tenantId)).toEqual([]);

    // On PostgreSQL these run on up to 10 pooled connections at once and queue on the counter row.
    const responses = await Promise.all(drafts.map((draft) => finalize(tenantId, draft.record_id)));
    for (const response of responses) expect(response.statusCode, response.body).toBe(200);
    const numbers = responses.map((response) => response.json<{ data: RecordDetailView }>().data.invoice_number);

    expect([...numbers].sort()).toEqual(expected(2026, 40));
    expect(await numbersOf(tenantId)).toEqual(expected(2026, 40));
    expect(await lastSeq(tenantId, 2026)).toBe(40);
  });

  it('finalisations in parallel transactions (the service function) are gapless too', async () => {
    const tenantId = 'tnt_num_trx';
    await givenTenant(t, tenantId);
    t.clock.set('2026-02-11T09:00:00Z');
    const drafts = await Promise.all(Array.from({ length: 25 }, (_, index) => createDraft(tenantId, `Trx ${index}`)));
    const scope = { tenantId };
    const results = await Promise.all(
      drafts.map((draft) =>
        t.database.db
          .transaction()
          .execute((trx) =>
            finalizeRecord({ trx, clock: t.clock, scope, recordId: draft.record_id, actor: 'usr_test' }),
          ),
      ),
    );
    const numbers = results.map((result) => {
      expect(result.ok).toBe(true);
      return result.ok ? result.value.invoice_number : null;
    });
    expect([...numbers].sort()).toEqual(expected(2026, 25));
  });

  it('a finalisation that takes a number and rolls back leaves no gap: the next one gets that number', async () => {
    const tenantId = 'tnt_num_rollback';
    await givenTenant(t, tenantId);
    t.clock.set('2026-03-01T09:00:00Z');
    const scope = { tenantId };
    const [first, doomed, waiting, last] = [
      await createDraft(tenantId, 'first'),
      await createDraft(tenantId, 'doomed'),
      await createDraft(tenantId, 'waiting'),
      await createDraft(tenantId, 'last'),
    ];
    expect(await finalizeOk(tenantId, first.record_id)).toBe('INV-2026-001');

    // The doomed transaction takes 002 and holds it while another finalisation starts.
    let taken: (number: string | null) => void = () => undefined;
    const numberTaken = new Promise<string | null>((resolve) => (taken = resolve));
    let abort: () => void = () => undefined;
    const aborted = new Promise<void>((resolve) => (abort = resolve));
    const doomedRun = t.database.db.transaction().execute(async (trx) => {
      const result = await finalizeRecord({
        trx,
        clock: t.clock,
        scope,
        recordId: doomed.record_id,
        actor: 'usr_test',
      });
      taken(result.ok ? result.value.invoice_number : null);
      await aborted;
      throw new Error('payment provider down: roll the finalisation back');
    });
    expect(await numberTaken).toBe('INV-2026-002');

    const waitingRun = t.database.db
      .transaction()
      .execute((trx) => finalizeRecord({ trx, clock: t.clock, scope, recordId: waiting.record_id, actor: 'usr_test' }));
    if (onServer) {
      // Real concurrency: the second finalisation is blocked on the counter row's lock.
      for (let attempt = 0; ; attempt++) {
        const { rows } = await sql<{ n: bigint }>`
          select count(*) as n from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock'`.execute(t.database.db);
        if (rows[0]?.n === 1n) break;
        if (attempt > 200) throw new Error('the second finalisation never waited for the counter');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    abort();
    await expect(doomedRun).rejects.toThrow('roll the finalisation back');
    const second = await waitingRun;
    expect(second.ok && second.value.invoice_number).toBe('INV-2026-002');

    // The rolled-back record is still a draft without a number; finalising it later takes 003.
    const doomedNow = await t.database.db
      .selectFrom('billing_records')
      .select(['status', 'invoice_number', 'finalized_at'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', doomed.record_id)
      .executeTakeFirstOrThrow();
    expect(doomedNow).toEqual({ status: 'draft', invoice_number: null, finalized_at: null });

    // A rollback with nobody waiting gives the number back as well.
    await expect(
      t.database.db.transaction().execute(async (trx) => {
        const result = await finalizeRecord({
          trx,
          clock: t.clock,
          scope,
          recordId: last.record_id,
          actor: 'usr_test',
        });
        expect(result.ok && result.value.invoice_number).toBe('INV-2026-003');
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await lastSeq(tenantId, 2026)).toBe(2);
    expect(await finalizeOk(tenantId, doomed.record_id)).toBe('INV-2026-003');
    expect(await finalizeOk(tenantId, last.record_id)).toBe('INV-2026-004');
    expect(await numbersOf(tenantId)).toEqual(expected(2026, 4));
  });
});

describe('invoice numbers per tenant and calendar year in its time zone', () => {
  it("follows each tenant's own year, and restarts at 001 when its year turns", async () => {
    const shanghai = 'tnt_num_shanghai';
    const newYork = 'tnt_num_new_york';
    await givenTenant(t, shanghai, { time_zone: 'Asia/Shanghai' });
    await givenTenant(t, newYork, { time_zone: 'America/New_York' });
    const draftsOf = async (tenantId: string, count: number) =>
      Promise.all(Array.from({ length: count }, (_, index) => createDraft(tenantId, `Y ${index}`)));
    t.clock.set('2026-06-01T00:00:00Z');
    const sh = await draftsOf(shanghai, 5);
    const ny = await draftsOf(newYork, 5);

    // Mid-year: each tenant counts on its own.
    expect(await finalizeOk(shanghai, sh[0]!.record_id)).toBe('INV-2026-001');
    expect(await finalizeOk(newYork, ny[0]!.record_id)).toBe('INV-2026-001');
    expect(await finalizeOk(newYork, ny[1]!.record_id)).toBe('INV-2026-002');

    // 23:59:59 on 31 December in Shanghai.
    t.clock.set('2026-12-31T15:59:59Z');
    expect(await finalizeOk(shanghai, sh[1]!.record_id)).toBe('INV-2026-002');

    // 2026-12-31T16:30Z: already 2027 in Shanghai (00:30), still 2026 in New York (11:30).
    t.clock.set('2026-12-31T16:30:00Z');
    expect(await finalizeOk(shanghai, sh[2]!.record_id)).toBe('INV-2027-001');
    expect(await finalizeOk(newYork, ny[2]!.record_id)).toBe('INV-2026-003');

    // 23:59:59 on 31 December in New York (EST, UTC-5), then its new year.
    t.clock.set('2027-01-01T04:59:59Z');
    expect(await finalizeOk(newYork, ny[3]!.record_id)).toBe('INV-2026-004');
    t.clock.set('2027-01-01T05:00:00Z');
    expect(await finalizeOk(newYork, ny[4]!.record_id)).toBe('INV-2027-001');
    expect(await finalizeOk(shanghai, sh[3]!.record_id)).toBe('INV-2027-002');

    expect(await numbersOf(shanghai)).toEqual(['INV-2026-001', 'INV-2026-002', 'INV-2027-001', 'INV-2027-002']);
    expect(await numbersOf(newYork)).toEqual([
      'INV-2026-001',
      'INV-2026-002',
      'INV-2026-003',
      'INV-2026-004',
      'INV-2027-001',
    ]);
    expect(await lastSeq(shanghai, 2026)).toBe(2);
    expect(await lastSeq(shanghai, 2027)).toBe(2);
    expect(await lastSeq(newYork, 2026)).toBe(4);
    expect(await lastSeq(newYork, 2027)).toBe(1);
  });

  it('numbers a record finalised at once (finalize: true) from the same counter', async () => {
    const tenantId = 'tnt_num_at_once';
    await givenTenant(t, tenantId);
    t.clock.set('2026-04-01T00:00:00Z');
    const draft = await createDraft(tenantId);
    const atOnce = await post(`/admin/records/${tenantId}`, { ...oneLine('At once'), finalize: true });
    expect(atOnce.statusCode, atOnce.body).toBe(201);
    expect(atOnce.json<{ data: RecordDetailView }>().data).toMatchObject({
      status: 'pending',
      invoice_number: 'INV-2026-001',
      finalized_at: '2026-04-01T00:00:00Z',
    });
    expect(await finalizeOk(tenantId, draft.record_id)).toBe('INV-2026-002');
  });
});

describe('finalisation happens once', () => {
  it('a second finalisation is refused with 409 and the record keeps its number and history', async () => {
    const tenantId = 'tnt_num_twice';
    await givenTenant(t, tenantId);
    t.clock.set('2026-05-01T00:00:00Z');
    const draft = await createDraft(tenantId);
    const untouched = await createDraft(tenantId, 'Stays a draft');
    expect(await finalizeOk(tenantId, draft.record_id)).toBe('INV-2026-001');

    t.clock.set('2026-05-02T00:00:00Z');
    const again = await finalize(tenantId, draft.record_id);
    expect(again.statusCode, again.body).toBe(409);
    expect(again.json<{ error: { type: string } }>().error.type).toBe('conflict');

    const read = await asTenantAdmin(t, tenantId).get(`/billing/records/${tenantId}/${draft.record_id}`);
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json<{ data: RecordDetailView }>().data).toMatchObject({
      status: 'pending',
      invoice_number: 'INV-2026-001',
      finalized_at: '2026-05-01T00:00:00Z',
    });
    expect(read.json<{ data: RecordDetailView }>().data.status_history).toHaveLength(2);

    // The refusal took no number; the draft beside it was never numbered.
    expect(await lastSeq(tenantId, 2026)).toBe(1);
    const draftRow = await t.database.db
      .selectFrom('billing_records')
      .select(['status', 'invoice_number'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', untouched.record_id)
      .executeTakeFirstOrThrow();
    expect(draftRow).toEqual({ status: 'draft', invoice_number: null });
    expect(await finalizeOk(tenantId, untouched.record_id)).toBe('INV-2026-002');
  });

  it('drafts are not listed and not numbered; an unknown record is 404 and takes no number', async () => {
    const tenantId = 'tnt_num_drafts';
    await givenTenant(t, tenantId);
    t.clock.set('2026-05-03T00:00:00Z');
    await createDraft(tenantId);
    await createDraft(tenantId);
    const search = await asTenantAdmin(t, tenantId).get(`/billing/records/${tenantId}/search`);
    expect(search.statusCode, search.body).toBe(200);
    expect(search.json<{ total: number }>().total).toBe(0);
    const missing = await finalize(tenantId, 'rec_0000000000000000');
    expect(missing.statusCode, missing.body).toBe(404);
    expect(await lastSeq(tenantId, 2026)).toBeUndefined();
  });
});

describe('amounts to the minor unit', () => {
  const lineRows = (tenantId: string, recordId: string) =>
    t.database.db
      .selectFrom('billing_record_lines')
      .select(['line_no', 'quantity', 'unit_price', 'amount', 'tax_rate', 'tax_amount'])
      .where('tenant_id', '=', tenantId)
      .where('record_id', '=', recordId)
      .orderBy('line_no')
      .execute();
  const recordRow = (tenantId: string, recordId: string) =>
    t.database.db
      .selectFrom('billing_records')
      .select(['currency', 'amount', 'tax_amount', 'total_amount'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', recordId)
      .executeTakeFirstOrThrow();

  it('JPY (no decimals, tax 0.1): each line and its tax rounded half-up to the yen', async () => {
    const tenantId = 'tnt_num_jpy';
    await givenTenant(t, tenantId, { currency: 'JPY', tax_rate: 0.1, time_zone: 'Asia/Tokyo' });
    t.clock.set('2026-07-01T00:00:00Z');
    const created = await post(`/admin/records/${tenantId}`, {
      type: 'usage',
      description: 'Usage in yen',
      finalize: true,
      lines: [
        // 3 × 33.5 = 100.5 → 101; tax 10.1 → 10
        { description: 'API requests', resource_type: 'api_requests', quantity: 3, unit_price: 33.5 },
        // 1 × 4.5 = 4.5 → 5; tax 0.5 → 1
        { description: 'Logins', resource_type: 'login_attempts', quantity: 1, unit_price: 4.5 },
        // 7 × 0.35 = 2.45 → 2; tax 0.2 → 0
        { description: 'MFA', resource_type: 'mfa_verifications', quantity: 7, unit_price: 0.35 },
        // 1 × 0.49 = 0.49 → 0; tax 0
        { description: 'Bandwidth', resource_type: 'bandwidth_used', quantity: 1, unit_price: 0.49 },
      ],
    });
    expect(created.statusCode, created.body).toBe(201);
    const record = created.json<{ data: RecordDetailView }>().data;
    expect(record).toMatchObject({
      currency: 'JPY',
      invoice_number: 'INV-2026-001',
      amount: 108,
      tax_amount: 11,
      total_amount: 119,
    });
    expect(record.line_items.map(({ amount, tax_amount, tax_rate }) => ({ amount, tax_amount, tax_rate }))).toEqual([
      { amount: 101, tax_amount: 10, tax_rate: 0.1 },
      { amount: 5, tax_amount: 1, tax_rate: 0.1 },
      { amount: 2, tax_amount: 0, tax_rate: 0.1 },
      { amount: 0, tax_amount: 0, tax_rate: 0.1 },
    ]);
    expect(record.line_items.map((line) => line.unit_price)).toEqual([33.5, 4.5, 0.35, 0.49]);

    expect(await recordRow(tenantId, record.record_id)).toEqual({
      currency: 'JPY',
      amount: 108n,
      tax_amount: 11n,
      total_amount: 119n,
    });
    const lines = await lineRows(tenantId, record.record_id);
    expect(lines.map(({ amount, tax_amount, quantity }) => ({ amount, tax_amount, quantity }))).toEqual([
      { amount: 101n, tax_amount: 10n, quantity: 3n },
      { amount: 5n, tax_amount: 1n, quantity: 1n },
      { amount: 2n, tax_amount: 0n, quantity: 7n },
      { amount: 0n, tax_amount: 0n, quantity: 1n },
    ]);
    expect(lines.map((line) => [line.unit_price, line.tax_rate].map(Number))).toEqual([
      [33.5, 0.1],
      [4.5, 0.1],
      [0.35, 0.1],
      [0.49, 0.1],
    ]);
  });

  it('BHD (three decimals, tax 0.05): each line and its tax rounded half-up to the fils', async () => {
    const tenantId = 'tnt_num_bhd';
    await givenTenant(t, tenantId, { currency: 'BHD', tax_rate: 0.05, time_zone: 'Asia/Bahrain' });
    t.clock.set('2026-07-01T00:00:00Z');
    const created = await post(`/admin/records/${tenantId}`, {
      type: 'usage',
      description: 'Usage in dinars',
      finalize: true,
      lines: [
        // 1 × 0.0005 = 0.5 fils → 1; tax 0.05 → 0
        { description: 'Tiny', resource_type: 'api_requests', quantity: 1, unit_price: 0.0005 },
        // 3 × 1.2345 = 3703.5 fils → 3704; tax 185.2 → 185
        { description: 'Logins', resource_type: 'login_attempts', quantity: 3, unit_price: 1.2345 },
        // 10 × 0.00105 = 10.5 fils → 11; tax 0.55 → 1
        { description: 'MFA', resource_type: 'mfa_verifications', quantity: 10, unit_price: 0.00105 },
        // 1 × 2.01 = 2010 fils; tax 100.5 → 101
        { description: 'Storage', resource_type: 'storage_used', quantity: 1, unit_price: 2.01 },
        // 2 × 0.00024 = 0.48 fils → 0; an explicit line rate 0.125: tax 0
        { description: 'Free-ish', resource_type: 'bandwidth_used', quantity: 2, unit_price: 0.00024, tax_rate: 0.125 },
      ],
    });
    expect(created.statusCode, created.body).toBe(201);
    const record = created.json<{ data: RecordDetailView }>().data;
    expect(record).toMatchObject({
      currency: 'BHD',
      invoice_number: 'INV-2026-001',
      amount: 5.726,
      tax_amount: 0.287,
      total_amount: 6.013,
    });
    expect(record.line_items.map(({ amount, tax_amount, tax_rate }) => ({ amount, tax_amount, tax_rate }))).toEqual([
      { amount: 0.001, tax_amount: 0, tax_rate: 0.05 },
      { amount: 3.704, tax_amount: 0.185, tax_rate: 0.05 },
      { amount: 0.011, tax_amount: 0.001, tax_rate: 0.05 },
      { amount: 2.01, tax_amount: 0.101, tax_rate: 0.05 },
      { amount: 0, tax_amount: 0, tax_rate: 0.125 },
    ]);

    expect(await recordRow(tenantId, record.record_id)).toEqual({
      currency: 'BHD',
      amount: 5726n,
      tax_amount: 287n,
      total_amount: 6013n,
    });
    const lines = await lineRows(tenantId, record.record_id);
    expect(lines.map(({ amount, tax_amount }) => ({ amount, tax_amount }))).toEqual([
      { amount: 1n, tax_amount: 0n },
      { amount: 3704n, tax_amount: 185n },
      { amount: 11n, tax_amount: 1n },
      { amount: 2010n, tax_amount: 101n },
      { amount: 0n, tax_amount: 0n },
    ]);
    // Unit prices keep every decimal the client sent (exact NUMERIC text, not a float).
    expect(lines.map((line) => line.unit_price)).toEqual(['0.0005', '1.2345', '0.00105', '2.01', '0.00024']);

    // What the list shows is what is stored.
    const listed = await asTenantAdmin(t, tenantId).get(
      `/billing/records/${tenantId}/search?search=${encodeURIComponent('INV-2026-001')}`,
    );
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json<{ items: RecordView[] }>().items[0]).toMatchObject({
      amount: 5.726,
      tax_amount: 0.287,
      total_amount: 6.013,
    });
  });
});

describe('the database guards what was billed', () => {
  const givenFinalised = async (tenantId: string) => {
    await givenTenant(t, tenantId);
    t.clock.set('2026-08-01T00:00:00Z');
    const draft = await createDraft(tenantId);
    await finalizeOk(tenantId, draft.record_id);
    return draft.record_id;
  };

  it('refuses UPDATE and DELETE on billing_record_lines and billing_record_events', async () => {
    const tenantId = 'tnt_num_immutable';
    const recordId = await givenFinalised(tenantId);
    const db = t.database.db;
    await expect(
      sql`update billing_record_lines set amount = 0 where tenant_id = ${tenantId} and record_id = ${recordId}`.execute(
        db,
      ),
    ).rejects.toThrow(/UPDATE on billing_record_lines is refused/);
    await expect(
      sql`delete from billing_record_lines where tenant_id = ${tenantId} and record_id = ${recordId}`.execute(db),
    ).rejects.toThrow(/DELETE on billing_record_lines is refused/);
    await expect(
      sql`update billing_record_events set actor = 'someone else' where tenant_id = ${tenantId}`.execute(db),
    ).rejects.toThrow(/UPDATE on billing_record_events is refused/);
    await expect(
      sql`delete from billing_record_events where tenant_id = ${tenantId} and record_id = ${recordId}`.execute(db),
    ).rejects.toThrow(/DELETE on billing_record_events is refused/);
    await expect(sql`truncate billing_record_lines, billing_record_events`.execute(db)).rejects.toThrow(/refused/);

    const lines = await db
      .selectFrom('billing_record_lines')
      .select('amount')
      .where('tenant_id', '=', tenantId)
      .execute();
    expect(lines).toEqual([{ amount: 1000n }]);
    const events = await db
      .selectFrom('billing_record_events')
      .select(['seq', 'actor'])
      .where('tenant_id', '=', tenantId)
      .orderBy('seq')
      .execute();
    expect(events).toEqual([
      { seq: 1, actor: 'usr_platform' },
      { seq: 2, actor: 'usr_platform' },
    ]);
  });

  it('refuses a finalised record without an invoice number, and a draft with one (CHECK)', async () => {
    const tenantId = 'tnt_num_check';
    const recordId = await givenFinalised(tenantId);
    const db = t.database.db;
    await expect(
      sql`update billing_records set invoice_number = null where tenant_id = ${tenantId} and id = ${recordId}`.execute(
        db,
      ),
    ).rejects.toThrow(/check constraint/);
    await expect(
      sql`update billing_records set status = 'paid', invoice_number = null
           where tenant_id = ${tenantId} and id = ${recordId}`.execute(db),
    ).rejects.toThrow(/check constraint/);
    await expect(
      sql`update billing_records set status = 'draft', finalized_at = null
           where tenant_id = ${tenantId} and id = ${recordId}`.execute(db),
    ).rejects.toThrow(/check constraint/);

    const at = new Date('2026-08-01T00:00:00Z');
    const row = {
      tenant_id: tenantId,
      id: 'rec_0000000000000001',
      app_id: null,
      type: 'one_time' as const,
      currency: 'CNY',
      description: 'raw insert',
      amount: 100n,
      tax_amount: 6n,
      total_amount: 106n,
      search_text: 'raw insert',
      created_at: at,
      updated_at: at,
    };
    await expect(
      db
        .insertInto('billing_records')
        .values({ ...row, status: 'pending', invoice_number: null, finalized_at: at, due_at: at })
        .execute(),
    ).rejects.toThrow(/check constraint/);
    await expect(
      db
        .insertInto('billing_records')
        .values({ ...row, status: 'draft', invoice_number: 'INV-2026-999', finalized_at: null })
        .execute(),
    ).rejects.toThrow(/check constraint/);
    // A duplicate invoice number in one tenant is refused too.
    await expect(
      db
        .insertInto('billing_records')
        .values({ ...row, status: 'pending', invoice_number: 'INV-2026-001', finalized_at: at, due_at: at })
        .execute(),
    ).rejects.toThrow(/duplicate key|unique/);

    const kept = await db
      .selectFrom('billing_records')
      .select(['status', 'invoice_number'])
      .where('tenant_id', '=', tenantId)
      .execute();
    expect(kept).toEqual([{ status: 'pending', invoice_number: 'INV-2026-001' }]);
  });
});
