import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBilling } from '../billing-run/billing-run.js';
import { eventsOf, onlyEvent } from '../../testing/billing-events.js';
import { asPlatformAdmin, freshKey } from '../../testing/api.js';
import { expectData, expectError } from '../../testing/envelopes.js';
import { givenPlan, givenRecord, givenSubscription, givenTenant, recordsOf } from '../../testing/fixtures.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import type { RecordDetailView } from '../../testing/views.js';
import { deliverNotifications, retryDelaysMs } from './deliver-notifications.js';
import { createTransports, type ComposeDocumentEmail, type DocumentEmail, type OutboxMessage } from './transports.js';

/*
 * The invoice email: every finalisation of a record of a tenant with a billing email queues one
 * outbox message in the finalising transaction (a trigger on events, migration 0017), whatever
 * finalised it (the API, a record created finalised, the billing run's batches); delivery asks
 * the documents' composer for the mail and sends it with its PDF through a real SMTP receiver.
 */

const billingEmail = 'ap@customer.example';
const smtpFrom = 'billing@example.com';

// ---------------------------------------------------------------- an SMTP receiver and a MIME reader

interface MimePart {
  headers: Map<string, string>;
  body: Buffer;
  parts: MimePart[];
}

/** A message or part: lower-cased unfolded headers, the decoded body, and its parts when multipart. */
const parseMime = (raw: Buffer): MimePart => {
  const text = raw.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const headers = new Map<string, string>();
  for (const line of text
    .slice(0, split)
    .replace(/\r\n[ \t]+/g, ' ')
    .split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const content = text.slice(split + 4);
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get('content-type') ?? '')?.[1];
  if (boundary !== undefined) {
    const parts = content
      .split(`--${boundary}`)
      .slice(1, -1)
      .map((part) => parseMime(Buffer.from(part.replace(/^\r\n/, '').replace(/\r\n$/, ''), 'latin1')));
    return { headers, body: Buffer.alloc(0), parts };
  }
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  const body =
    encoding === 'base64'
      ? Buffer.from(content.replace(/\s+/g, ''), 'base64')
      : encoding === 'quoted-printable'
        ? Buffer.from(
            content
              .replace(/=\r\n/g, '')
              .replace(/=([0-9A-F]{2})/gi, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            'latin1',
          )
        : Buffer.from(content, 'latin1');
  return { headers, body, parts: [] };
};

/** Every leaf part of a message, depth first. */
const leaves = (part: MimePart): MimePart[] => (part.parts.length === 0 ? [part] : part.parts.flatMap(leaves));

interface ReceivedMail {
  rcptTo: string[];
  message: MimePart;
}

const mailbox: ReceivedMail[] = [];
const smtpServer = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  size: 10 * 1024 * 1024,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      mailbox.push({
        rcptTo: session.envelope.rcptTo.map((address) => address.address),
        message: parseMime(Buffer.concat(chunks)),
      });
      callback();
    });
  },
});
let smtpUrl: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => smtpServer.listen(0, '127.0.0.1', resolve));
  smtpUrl = `smtp://127.0.0.1:${(smtpServer.server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => smtpServer.close(resolve)));

// ---------------------------------------------------------------- helpers

let tenantSeq = 0;
const givenFreshTenant = async (email: string | null = billingEmail, t: TestApp = app): Promise<string> => {
  const tenantId = `tnt_invoice_mail_${++tenantSeq}`;
  await givenTenant(t, tenantId, {
    time_zone: 'UTC',
    ...(email === null ? {} : { billing_profile: { legal_name: 'Customer Ltd.', email } }),
  });
  return tenantId;
};

const recordBody = (finalize: boolean) => ({
  type: 'one_time',
  description: 'Onboarding',
  lines: [{ description: 'Onboarding', resource_type: 'service', quantity: 1, unit_price: 100 }],
  finalize,
});

const messagesOf = (t: TestApp, tenantId: string): Promise<OutboxMessage[]> =>
  t.database.db
    .selectFrom('notification_outbox')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();

const queuedFor = (tenantId: string, record: { record_id: string; invoice_number: string | null }, at: string) => ({
  tenant_id: tenantId,
  id: `doc_${record.record_id}`,
  alert_id: null,
  signing_secret: null,
  channel: 'email',
  destination: billingEmail,
  subject: record.invoice_number,
  payload: { kind: 'invoice_document', record_id: record.record_id },
  status: 'pending',
  attempts: 0,
  next_attempt_at: new Date(at),
  last_error: null,
  created_at: new Date(at),
  sent_at: null,
});

// ================================================================ queueing

let app: TestApp;

describe('queueing', () => {
  beforeAll(async () => {
    app = await createTestApp();
    await givenPlan(app, 'monthly', {});
  });
  afterAll(() => app.close());
  beforeEach(() => app.clock.set(testStart));

  it('a finalisation through the API queues one message, and replaying or repeating it queues none', async () => {
    const tenantId = await givenFreshTenant();
    const draft = await givenRecord(app, tenantId, recordBody(false));
    expect(await messagesOf(app, tenantId)).toEqual([]);

    app.clock.set('2026-01-05T10:00:00Z');
    const url = `/admin/records/${tenantId}/${draft.record_id}/finalize`;
    const key = freshKey();
    const finalized = expectData<RecordDetailView>(await asPlatformAdmin(app).post(url, {}, { key }));
    expect(finalized.invoice_number).not.toBeNull();
    expect(await messagesOf(app, tenantId)).toEqual([queuedFor(tenantId, finalized, '2026-01-05T10:00:00Z')]);

    // The same request again is answered from its key; a new one is refused: still one message.
    app.clock.set('2026-01-05T11:00:00Z');
    expect(expectData<RecordDetailView>(await asPlatformAdmin(app).post(url, {}, { key }))).toEqual(finalized);
    expectError(await asPlatformAdmin(app).post(url, {}), 409, 'conflict');
    expect(await messagesOf(app, tenantId)).toHaveLength(1);
    await onlyEvent(app, tenantId, 'billing_record.finalized');
  });

  it('a record created finalised queues one message; replaying its creation queues none', async () => {
    const tenantId = await givenFreshTenant();
    const key = freshKey();
    const create = () => asPlatformAdmin(app).post(`/admin/records/${tenantId}`, recordBody(true), { key });
    const record = expectData<RecordDetailView>(await create(), 201);
    expect(expectData<RecordDetailView>(await create(), 201)).toEqual(record);
    expect(await messagesOf(app, tenantId)).toEqual([queuedFor(tenantId, record, testStart)]);
  });

  it('queues nothing for a tenant without a billing email, nor for a draft', async () => {
    const tenantId = await givenFreshTenant(null);
    await givenRecord(app, tenantId, recordBody(true));
    await onlyEvent(app, tenantId, 'billing_record.finalized');
    const withEmail = await givenFreshTenant();
    await givenRecord(app, withEmail, recordBody(false));
    expect([...(await messagesOf(app, tenantId)), ...(await messagesOf(app, withEmail))]).toEqual([]);
  });

  it("follows the tenant's billing email at finalisation: none before it was set, the new one after a change", async () => {
    const tenantId = await givenFreshTenant(null);
    await givenRecord(app, tenantId, recordBody(true));
    const admin = asPlatformAdmin(app);
    expectData(
      await admin.patch(`/admin/tenants/${tenantId}`, { billing_profile: { email: 'first@customer.example' } }),
    );
    const first = await givenRecord(app, tenantId, recordBody(true));
    app.clock.advance(3_600_000);
    expectData(
      await admin.patch(`/admin/tenants/${tenantId}`, { billing_profile: { email: 'second@customer.example' } }),
    );
    const second = await givenRecord(app, tenantId, recordBody(true));
    expectData(await admin.patch(`/admin/tenants/${tenantId}`, { billing_profile: { email: null } }));
    await givenRecord(app, tenantId, recordBody(true));
    const messages = await messagesOf(app, tenantId);
    expect(messages.map((message) => [message.id, message.destination])).toEqual([
      [`doc_${first.record_id}`, 'first@customer.example'],
      [`doc_${second.record_id}`, 'second@customer.example'],
    ]);
  });

  it('the billing run queues one message per record it creates finalised, once however often it runs', async () => {
    const [a, b, none] = [await givenFreshTenant(), await givenFreshTenant(), await givenFreshTenant(null)];
    for (const tenantId of [a, b, none]) {
      await givenSubscription(app, tenantId, { plan_id: 'monthly', trial: false, payment_method: 'sandbox_success' });
    }
    // Two renewals each, written by the run's batches.
    for (const asOf of ['2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z', '2026-03-01T00:00:00Z']) {
      app.clock.set(asOf);
      const run = await runBilling(app.database.db, new Date(asOf), { batchSize: 2 });
      expect(run.failures).toEqual([]);
    }
    for (const tenantId of [a, b]) {
      const records = await recordsOf(app, tenantId);
      expect(records).toHaveLength(3);
      const finalizedEvents = await eventsOf(app, tenantId, 'billing_record.finalized');
      expect(finalizedEvents).toHaveLength(3);
      const messages = await messagesOf(app, tenantId);
      expect(messages.map((message) => message.id).sort()).toEqual(
        records.map((record) => `doc_${record.record_id}`).sort(),
      );
      for (const record of records) {
        const event = finalizedEvents.find((candidate) => candidate.data.record_id === record.record_id)!;
        expect(messages.find((message) => message.id === `doc_${record.record_id}`)).toEqual(
          queuedFor(tenantId, record, event.created_at),
        );
      }
    }
    expect(await messagesOf(app, none)).toEqual([]);
    expect(await eventsOf(app, none, 'billing_record.finalized')).toHaveLength(3);
  });

  it('a second finalized event for the same record (a replay) finds its message taken: never twice', async () => {
    const tenantId = await givenFreshTenant();
    const record = await givenRecord(app, tenantId, recordBody(true));
    const event = await onlyEvent(app, tenantId, 'billing_record.finalized');
    await sql`insert into events (tenant_id, id, type, app_id, created_at, data)
              values (${tenantId}, ${'evt_' + 'z'.repeat(25)}, 'billing_record.finalized', null,
                      ${new Date('2026-01-09T00:00:00Z')}, ${JSON.stringify(event.data)}::jsonb)`.execute(
      app.database.db,
    );
    expect(await eventsOf(app, tenantId, 'billing_record.finalized')).toHaveLength(2);
    expect(await messagesOf(app, tenantId)).toEqual([queuedFor(tenantId, record, testStart)]);
  });
});

// ================================================================ delivery

describe('delivery', () => {
  let t: TestApp;
  let composed: [string, string][];
  let composerFailure: string | undefined;
  const pdf = Buffer.from('%PDF-1.7\n% a test document\n%%EOF\n', 'latin1');

  const composer: ComposeDocumentEmail = (tenantId, recordId) => {
    composed.push([tenantId, recordId]);
    if (composerFailure !== undefined) return Promise.reject(new Error(composerFailure));
    const mail: DocumentEmail = {
      subject: `发票 Invoice ${recordId}`,
      html: `<p>Invoice <b>${recordId}</b> 已开具</p>`,
      text: `Invoice ${recordId} 已开具`,
      attachment: { filename: `${recordId}.pdf`, content: pdf, contentType: 'application/pdf' },
    };
    return Promise.resolve(mail);
  };

  /** Delivers due messages with the fake composer (or `compose`) through the SMTP receiver (or none). */
  const deliver = ({
    compose = composer,
    smtp = true,
  }: { compose?: ComposeDocumentEmail | null; smtp?: boolean } = {}) =>
    deliverNotifications(
      t.database.db,
      t.clock,
      createTransports({
        smtpUrl: smtp ? smtpUrl : undefined,
        smtpFrom,
        clock: t.clock,
        composeDocumentEmail: compose,
      }),
    );

  beforeEach(async () => {
    mailbox.length = 0;
    composed = [];
    composerFailure = undefined;
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const finalizedFor = async () => {
    const tenantId = await givenFreshTenant(billingEmail, t);
    const record = await givenRecord(t, tenantId, recordBody(true));
    return { tenantId, record };
  };

  it('sends the composed mail with its PDF to the billing email, once, under a stable Message-ID', async () => {
    const { tenantId, record } = await finalizedFor();
    expect(await deliver()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(composed).toEqual([[tenantId, record.record_id]]);
    expect(mailbox).toHaveLength(1);
    const { rcptTo, message } = mailbox[0]!;
    expect(rcptTo).toEqual([billingEmail]);
    expect(message.headers.get('to')).toBe(billingEmail);
    expect(message.headers.get('from')).toBe(smtpFrom);
    expect(message.headers.get('message-id')).toBe(`<doc_${record.record_id}@billing.local>`);
    expect(message.headers.get('content-type')).toMatch(/^multipart\/mixed/);
    const parts = leaves(message);
    const byType = (type: string) => parts.find((part) => part.headers.get('content-type')?.startsWith(type));
    expect(byType('text/plain')?.body.toString('utf8')).toBe(`Invoice ${record.record_id} 已开具`);
    expect(byType('text/html')?.body.toString('utf8')).toBe(`<p>Invoice <b>${record.record_id}</b> 已开具</p>`);
    const attachment = byType('application/pdf');
    expect(attachment?.headers.get('content-disposition')).toContain(`filename=${record.record_id}.pdf`);
    expect(attachment?.body.equals(pdf)).toBe(true);
    expect(await messagesOf(t, tenantId)).toEqual([
      expect.objectContaining({ status: 'sent', attempts: 1, sent_at: new Date(testStart), last_error: null }),
    ]);

    t.clock.advance(86_400_000);
    expect(await deliver()).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(mailbox).toHaveLength(1);
    expect(composed).toHaveLength(1);
  });

  it('retries when the composer fails, and sends once it succeeds', async () => {
    const { tenantId, record } = await finalizedFor();
    composerFailure = 'the PDF could not be rendered';
    expect(await deliver()).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect(mailbox).toEqual([]);
    const [failed] = await messagesOf(t, tenantId);
    expect(failed).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_error: 'the PDF could not be rendered',
      next_attempt_at: new Date(Date.parse(testStart) + retryDelaysMs[0]!),
    });

    composerFailure = undefined;
    expect(await deliver()).toEqual({ sent: 0, retrying: 0, failed: 0 });
    t.clock.advance(retryDelaysMs[0]!);
    expect(await deliver()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(composed).toEqual([
      [tenantId, record.record_id],
      [tenantId, record.record_id],
    ]);
    expect(mailbox.map((mail) => mail.message.headers.get('message-id'))).toEqual([
      `<doc_${record.record_id}@billing.local>`,
    ]);
  });

  it('marks the message failed after the last retry when the composer keeps failing', async () => {
    const { tenantId } = await finalizedFor();
    composerFailure = 'no such record';
    for (const delay of retryDelaysMs) {
      expect(await deliver()).toEqual({ sent: 0, retrying: 1, failed: 0 });
      t.clock.advance(delay);
    }
    expect(await deliver()).toEqual({ sent: 0, retrying: 0, failed: 1 });
    expect(await messagesOf(t, tenantId)).toEqual([
      expect.objectContaining({ status: 'failed', attempts: retryDelaysMs.length + 1, next_attempt_at: null }),
    ]);
    expect(mailbox).toEqual([]);
  });

  it('fails the attempt, saying why, without a composer or without SMTP (composing nothing)', async () => {
    const { tenantId } = await finalizedFor();
    expect(await deliver({ compose: null })).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect((await messagesOf(t, tenantId))[0]?.last_error).toBe('invoice documents are not configured in this process');
    t.clock.advance(retryDelaysMs[0]!);
    expect(await deliver({ smtp: false })).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect((await messagesOf(t, tenantId))[0]?.last_error).toContain('SMTP_URL');
    expect(composed).toEqual([]);
    expect(mailbox).toEqual([]);
  });
});
