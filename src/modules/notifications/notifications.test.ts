import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultPoolConfig, openDatabase, type DatabaseHandle } from '../../db/database.js';
import { asTenantAdmin } from '../../testing/api.js';
import {
  givenAlert as givenAlertOn,
  givenPlan,
  givenSubscription,
  givenTenantWithApps,
  givenUsage,
} from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { AlertView } from '../../testing/views.js';
import { deliverNotifications, retryDelaysMs } from './deliver-notifications.js';
import { createTransports, type OutboxMessage, type Transports } from './transports.js';

/*
 * Delivery of usage alert messages through real receivers: an SMTP server (smtp-server) for
 * email and a node:http server that checks Standard Webhooks signatures on its own. An alert is
 * fired through the API (ingested usage crossing it), then deliverNotifications is called the
 * way the scheduler calls it, with the test's clock. The outbox is global, so every test has an
 * app and database of its own.
 */

const withoutServer = !process.env.DATABASE_URL;
const smtpFrom = 'billing@example.com';
const recipients = ['ops@example.com', 'finance@example.com'];
const firedAt = '2026-01-10T12:00:00Z';
const noDelivery = { sent: 0, retrying: 0, failed: 0 };

// ---------------------------------------------------------------- the SMTP receiver

interface ReceivedMail {
  mailFrom: string;
  rcptTo: string[];
  headers: Map<string, string>;
  text: string;
}

/** Headers (lower-cased names, unfolded) and the decoded text of a single-part message. */
const parseMail = (raw: string): Pick<ReceivedMail, 'headers' | 'text'> => {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const body = raw.slice(split + 4);
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  const text =
    encoding === 'quoted-printable'
      ? Buffer.from(
          body
            .replace(/=\r\n/g, '')
            .replace(/=([0-9A-F]{2})/gi, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16))),
          'latin1',
        ).toString('utf8')
      : encoding === 'base64'
        ? Buffer.from(body, 'base64').toString('utf8')
        : body;
  return { headers, text: text.replace(/\r\n$/, '') };
};

const mailbox: ReceivedMail[] = [];
/** When set, the SMTP server refuses messages with this reply. */
let smtpRefusal: string | undefined;

const smtpServer = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      if (smtpRefusal !== undefined) {
        callback(new Error(smtpRefusal));
        return;
      }
      const { mailFrom, rcptTo } = session.envelope;
      mailbox.push({
        mailFrom: mailFrom === false ? '' : mailFrom.address,
        rcptTo: rcptTo.map((address) => address.address),
        ...parseMail(Buffer.concat(chunks).toString('utf8')),
      });
      callback();
    });
  },
});
let smtpPort: number;

// ---------------------------------------------------------------- the webhook receiver

interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver's own check of the signature said. */
  signatureValid: boolean;
}

const hooks: ReceivedHook[] = [];
/** Statuses the receiver answers with, in turn; 200 once they run out. 0: never answers. */
let hookAnswers: number[] = [];
let hookDelayMs = 0;
/** What the receiver verifies with, per URL path: the secret the alert's create answer showed. */
const receiverSecrets = new Map<string, string>();

/** Standard Webhooks verification, done here without the service's code. */
const verifySignature = (secret: string, headers: IncomingHttpHeaders, body: string): boolean => {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key)
    .update(`${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`)
    .digest();
  return String(headers['webhook-signature'] ?? '')
    .split(' ')
    .filter((signature) => signature.startsWith('v1,'))
    .some((signature) => {
      const presented = Buffer.from(signature.slice(3), 'base64');
      return presented.length === expected.length && timingSafeEqual(presented, expected);
    });
};

const hookServer: Server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const secret = receiverSecrets.get(request.url ?? '') ?? 'whsec_';
    hooks.push({ headers: request.headers, body, signatureValid: verifySignature(secret, request.headers, body) });
    const status = hookAnswers.shift() ?? 200;
    if (status === 0) return; // hangs until the sender gives up
    setTimeout(() => response.writeHead(status).end(), hookDelayMs);
  });
});
let hookBase: string;

const listen = (server: { listen(port: number, host: string, callback: () => void): unknown }) =>
  new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

beforeAll(async () => {
  await listen(smtpServer);
  smtpPort = (smtpServer.server.address() as AddressInfo).port;
  await listen(hookServer);
  hookBase = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  hookServer.closeAllConnections();
  await new Promise<void>((resolve, reject) => hookServer.close((error) => (error ? reject(error) : resolve())));
  await new Promise<void>((resolve) => smtpServer.close(resolve));
});

// ---------------------------------------------------------------- the app, an alert, its firing

let t: TestApp;
let transports: Transports;

beforeEach(async () => {
  mailbox.length = 0;
  hooks.length = 0;
  hookAnswers = [];
  hookDelayMs = 0;
  smtpRefusal = undefined;
  receiverSecrets.clear();
  t = await createTestApp();
  transports = createTransports({
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    smtpFrom,
    clock: t.clock,
    composeDocumentEmail: null,
  });
  await givenPlan(t, 'metered', {
    name: 'Metered',
    resources: [{ resource_type: 'api_calls', included_units: 1000, overage_unit_price: '0.001' }],
  });
});

afterEach(async () => {
  hookServer.closeAllConnections();
  await t.close();
});

/** A subscribed tenant (UTC) with one app, the clock at the time alerts fire. */
const givenSubscribedTenant = async (tenantId = 'tnt_notify') => {
  await givenTenantWithApps(t, tenantId, [`app_${tenantId}`], { time_zone: 'UTC' });
  await givenSubscription(t, tenantId, { plan_id: 'metered', payment_method: 'sandbox_success', trial: false });
  t.clock.set(firedAt);
  return tenantId;
};

/** An alert at 80 % on the given channels; its webhook has a path of its own, and the receiver its secret. */
const givenAlert = async (tenantId: string, channels: string, name = 'API calls at 80%'): Promise<AlertView> => {
  const path = `/hooks/${receiverSecrets.size + 1}`;
  const alert = await givenAlertOn(t, tenantId, {
    name,
    notification_channels: channels,
    ...(channels.includes('email') ? { email_recipients: recipients.join(',') } : {}),
    ...(channels.includes('webhook') ? { webhook_url: `${hookBase}${path}` } : {}),
  });
  if (alert.webhook_secret !== null) receiverSecrets.set(path, alert.webhook_secret);
  return alert;
};

/** Ingests 800 api_calls: every 80 % alert of the tenant fires. */
const crossThreshold = (tenantId: string) =>
  givenUsage(t, { tenantId, appId: `app_${tenantId}`, resourceType: 'api_calls', quantity: 800 });

/** The outbox, email before webhook, each alert's messages together. */
const outbox = (): Promise<OutboxMessage[]> =>
  t.database.db.selectFrom('notification_outbox').selectAll().orderBy('alert_id').orderBy('channel').execute();

const onlyMessage = async (channel: 'email' | 'webhook'): Promise<OutboxMessage> => {
  const messages = (await outbox()).filter((message) => message.channel === channel);
  expect(messages).toHaveLength(1);
  return messages[0]!;
};

const deliver = (using: Transports = transports) => deliverNotifications(t.database.db, t.clock, using);

const sentAt = (at: string) => ({
  status: 'sent',
  next_attempt_at: null,
  last_error: null,
  sent_at: new Date(at),
});

const expectedText =
  'api_calls reached 800 of 1000 included units (80%, threshold 80%) in the period ' +
  '2026-01-01T00:00:00Z to 2026-02-01T00:00:00Z.';

// ================================================================ email

describe('email', () => {
  it('sends the alert to its recipients with the numbers and a stable Message-ID, once', async () => {
    const tenantId = await givenSubscribedTenant();
    await givenAlert(tenantId, 'email,in_app');
    await crossThreshold(tenantId);
    const message = await onlyMessage('email');
    expect(mailbox).toEqual([]);

    expect(await deliver()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(mailbox).toHaveLength(1);
    const mail = mailbox[0]!;
    expect(mail.mailFrom).toBe(smtpFrom);
    expect(mail.rcptTo).toEqual(recipients);
    expect(mail.headers.get('from')).toBe(smtpFrom);
    expect(mail.headers.get('to')).toBe(recipients.join(', '));
    expect(mail.headers.get('subject')).toBe('Usage alert: API calls at 80%');
    expect(mail.headers.get('message-id')).toBe(`<${message.id}@billing.local>`);
    expect(message.id).toMatch(/^msg_[a-z0-9]{16}$/);
    expect(mail.text).toBe(expectedText);
    expect(await onlyMessage('email')).toMatchObject({ ...sentAt(firedAt), attempts: 1 });

    // Sent is sent: a later run finds nothing to do.
    t.clock.advance(3_600_000);
    expect(await deliver()).toEqual(noDelivery);
    expect(mailbox).toHaveLength(1);
  });

  it('keeps the email pending, naming SMTP_URL, while no SMTP server is configured', async () => {
    const tenantId = await givenSubscribedTenant();
    await givenAlert(tenantId, 'email');
    await crossThreshold(tenantId);
    const unconfigured = createTransports({ smtpUrl: undefined, smtpFrom, clock: t.clock, composeDocumentEmail: null });

    expect(await deliver(unconfigured)).toEqual({ sent: 0, retrying: 1, failed: 0 });
    const pending = await onlyMessage('email');
    expect(pending).toMatchObject({
      status: 'pending',
      attempts: 1,
      next_attempt_at: new Date(Date.parse(firedAt) + retryDelaysMs[0]!),
      sent_at: null,
    });
    expect(pending.last_error).toContain('SMTP_URL');

    // Configured by the next attempt, it goes out then.
    t.clock.advance(retryDelaysMs[0]!);
    expect(await deliver()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(mailbox).toHaveLength(1);
    expect(await onlyMessage('email')).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
  });

  it('retries a message the SMTP server refused', async () => {
    const tenantId = await givenSubscribedTenant();
    await givenAlert(tenantId, 'email');
    await crossThreshold(tenantId);
    smtpRefusal = 'mailbox unavailable';

    expect(await deliver()).toEqual({ sent: 0, retrying: 1, failed: 0 });
    const refused = await onlyMessage('email');
    expect(refused).toMatchObject({ status: 'pending', attempts: 1, sent_at: null });
    expect(refused.last_error).toContain('mailbox unavailable');

    smtpRefusal = undefined;
    t.clock.advance(retryDelaysMs[0]!);
    expect(await deliver()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(mailbox.map((mail) => mail.headers.get('message-id'))).toEqual([`<${refused.id}@billing.local>`]);
  });
});

// ================================================================ webhooks

describe('webhooks', () => {
  it('POSTs the event as JSON, signed the Standard Webhooks way with the secret from the create answer', async () => {
    const tenantId = await givenSubscribedTenant();
    const alert = await givenAlert(tenantId, 'webhook');
    expect(alert.webhook_secret).toMatch(/^whsec_/);
    await crossThreshold(tenantId);
    const message = await onlyMessage('webhook');

    t.clock.set('2026-01-10T12:00:07Z');
    expect(await deliver()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(hooks).toHaveLength(1);
    const hook = hooks[0]!;
    expect(hook.signatureValid).toBe(true);
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['webhook-id']).toBe(message.id);
    expect(hook.headers['webhook-timestamp']).toBe(String(Date.parse('2026-01-10T12:00:07Z') / 1000));
    expect(JSON.parse(hook.body)).toEqual({
      type: 'usage_alert.triggered',
      timestamp: firedAt,
      data: {
        alert_id: alert.id,
        tenant_id: tenantId,
        app_id: null,
        name: 'API calls at 80%',
        resource_type: 'api_calls',
        threshold_percent: 80,
        usage: 800,
        included_units: 1000,
        percent_used: 80,
        period_start: '2026-01-01T00:00:00Z',
        period_end: '2026-02-01T00:00:00Z',
      },
    });
    // The check is a real one: another secret, or a changed body, does not verify.
    expect(verifySignature(`whsec_${Buffer.alloc(24, 1).toString('base64')}`, hook.headers, hook.body)).toBe(false);
    expect(verifySignature(alert.webhook_secret!, hook.headers, hook.body.replace('800', '801'))).toBe(false);

    expect(await onlyMessage('webhook')).toMatchObject({ ...sentAt('2026-01-10T12:00:07Z'), attempts: 1 });
    expect(await deliver()).toEqual(noDelivery);
    expect(hooks).toHaveLength(1);
  });

  it('retries after each delay in turn and marks the message sent when the receiver recovers', async () => {
    const tenantId = await givenSubscribedTenant();
    await givenAlert(tenantId, 'webhook');
    await crossThreshold(tenantId);
    hookAnswers = [500, 500];
    const first = Date.parse(firedAt);

    expect(await deliver()).toEqual({ sent: 0, retrying: 1, failed: 0 });
    const second = first + retryDelaysMs[0]!;
    expect(await onlyMessage('webhook')).toMatchObject({
      status: 'pending',
      attempts: 1,
      next_attempt_at: new Date(second),
      last_error: 'webhook answered 500',
    });

    // Not due a second early.
    t.clock.set(new Date(second - 1000));
    expect(await deliver()).toEqual(noDelivery);
    expect(hooks).toHaveLength(1);

    t.clock.set(new Date(second));
    expect(await deliver()).toEqual({ sent: 0, retrying: 1, failed: 0 });
    const third = second + retryDelaysMs[1]!;
    expect(await onlyMessage('webhook')).toMatchObject({ attempts: 2, next_attempt_at: new Date(third) });

    t.clock.set(new Date(third));
    expect(await deliver()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await onlyMessage('webhook')).toMatchObject({ ...sentAt(new Date(third).toISOString()), attempts: 3 });
    // Every attempt is the same message, signed afresh for its own second.
    expect(hooks.map((hook) => hook.headers['webhook-id'])).toEqual(Array(3).fill((await onlyMessage('webhook')).id));
    expect(hooks.map((hook) => Number(hook.headers['webhook-timestamp']) * 1000)).toEqual([first, second, third]);
    expect(hooks.every((hook) => hook.signatureValid)).toBe(true);
  });

  it('marks the message failed after the last retry delay', async () => {
    const tenantId = await givenSubscribedTenant();
    await givenAlert(tenantId, 'webhook');
    await crossThreshold(tenantId);
    hookAnswers = Array<number>(retryDelaysMs.length + 1).fill(503);

    let at = Date.parse(firedAt);
    for (const [index, delay] of retryDelaysMs.entries()) {
      t.clock.set(new Date(at));
      expect(await deliver()).toEqual({ sent: 0, retrying: 1, failed: 0 });
      at += delay;
      expect(await onlyMessage('webhook')).toMatchObject({
        status: 'pending',
        attempts: index + 1,
        next_attempt_at: new Date(at),
      });
    }
    t.clock.set(new Date(at));
    expect(await deliver()).toEqual({ sent: 0, retrying: 0, failed: 1 });
    expect(await onlyMessage('webhook')).toMatchObject({
      status: 'failed',
      attempts: retryDelaysMs.length + 1,
      next_attempt_at: null,
      sent_at: null,
      last_error: 'webhook answered 503',
    });
    // 1 min, 5 min, 30 min, 2 h, 6 h and 12 h after the first attempt.
    expect(at - Date.parse(firedAt)).toBe((1 + 5 + 30 + 120 + 360 + 720) * 60_000);

    t.clock.advance(7 * 86_400_000);
    expect(await deliver()).toEqual(noDelivery);
    expect(hooks).toHaveLength(retryDelaysMs.length + 1);
  });

  it('never sends an unsigned webhook for a message queued before the webhook was removed', async () => {
    const tenantId = await givenSubscribedTenant();
    const alert = await givenAlert(tenantId, 'in_app,webhook');
    await crossThreshold(tenantId);
    // The tenant drops the webhook (and with it the secret) before the message went out.
    const dropped = await asTenantAdmin(t, tenantId).patch(`/billing/usage-alerts/${tenantId}/${alert.id}`, {
      notification_channels: 'in_app',
      webhook_url: null,
    });
    expect(dropped.statusCode, dropped.body).toBe(200);

    await deliver();
    // Not sent at all, or sent signed with the secret its URL was given: never without a signature.
    expect(hooks.map((hook) => [hook.headers['webhook-signature'] !== undefined, hook.signatureValid])).toEqual(
      hooks.map(() => [true, true]),
    );
  });

  it('counts a redirect and a receiver that does not answer in time as failures', async () => {
    const tenantId = await givenSubscribedTenant();
    await givenAlert(tenantId, 'webhook');
    await crossThreshold(tenantId);
    const impatient = createTransports({
      smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
      smtpFrom,
      clock: t.clock,
      webhookTimeoutMs: 200,
      composeDocumentEmail: null,
    });

    hookAnswers = [302];
    expect(await deliver(impatient)).toEqual({ sent: 0, retrying: 1, failed: 0 });
    hookAnswers = [0];
    t.clock.advance(retryDelaysMs[0]!);
    expect(await deliver(impatient)).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect(await onlyMessage('webhook')).toMatchObject({ status: 'pending', attempts: 2, sent_at: null });
    expect(hooks).toHaveLength(2);
  });
});

// ================================================================ crashes

describe('crashes', () => {
  /** Transports of a process that dies on its way out: nothing leaves. */
  const dying: Transports = {
    email: () => Promise.reject(new Error('process is going down')),
    webhook: () => Promise.reject(new Error('process is going down')),
  };

  it('loses nothing between firing and sending, and sends each message exactly once after', async () => {
    const tenantId = await givenSubscribedTenant();
    await givenAlert(tenantId, 'email,in_app,webhook');
    await crossThreshold(tenantId);

    // The firing committed its outbox; the process died before or while sending.
    expect(await deliver(dying)).toEqual({ sent: 0, retrying: 2, failed: 0 });
    expect(mailbox).toEqual([]);
    expect(hooks).toEqual([]);

    // The next process, on the next tick: the rows are still there, and are sent once.
    t.clock.advance(retryDelaysMs[0]!);
    expect(await deliver()).toEqual({ sent: 2, retrying: 0, failed: 0 });
    t.clock.advance(retryDelaysMs[1]!);
    expect(await deliver()).toEqual(noDelivery);
    expect(mailbox).toHaveLength(1);
    expect(hooks).toHaveLength(1);
    expect((await outbox()).map((message) => message.status)).toEqual(['sent', 'sent']);
  });

  it('sends again with the same Message-ID and webhook-id when sending succeeded but recording it did not', async () => {
    const tenantId = await givenSubscribedTenant();
    await givenAlert(tenantId, 'email,webhook');
    await crossThreshold(tenantId);
    const [email, webhook] = await outbox();

    // Sent, but the outcome is lost: to the outbox it looks like a failure.
    const sentButLost: Transports = {
      email: async (message) => {
        await transports.email(message);
        throw new Error('connection reset after the transport answered');
      },
      webhook: async (message) => {
        await transports.webhook(message);
        throw new Error('connection reset after the transport answered');
      },
    };
    expect(await deliver(sentButLost)).toEqual({ sent: 0, retrying: 2, failed: 0 });
    t.clock.advance(retryDelaysMs[0]!);
    expect(await deliver()).toEqual({ sent: 2, retrying: 0, failed: 0 });

    expect(mailbox.map((mail) => mail.headers.get('message-id'))).toEqual([
      `<${email!.id}@billing.local>`,
      `<${email!.id}@billing.local>`,
    ]);
    expect(hooks.map((hook) => hook.headers['webhook-id'])).toEqual([webhook!.id, webhook!.id]);
    expect(hooks[0]!.body).toBe(hooks[1]!.body);
  });

  describe.skipIf(withoutServer)('on PostgreSQL', () => {
    it('sends again with the same identity after the delivering connection died between sending and marking', async () => {
      const tenantId = await givenSubscribedTenant();
      await givenAlert(tenantId, 'email,webhook');
      await crossThreshold(tenantId);
      const [email, webhook] = await outbox();

      // After the transport succeeded, the session holding the message's lock is killed: the
      // outbox update never commits, exactly as if the process had died there.
      const killDeliverer = async () => {
        await sql`select pg_terminate_backend(pid) from pg_stat_activity
                   where datname = current_database() and pid <> pg_backend_pid()
                     and state = 'idle in transaction'`.execute(t.database.db);
      };
      const crashing: Transports = {
        email: async (message) => {
          await transports.email(message);
          await killDeliverer();
        },
        webhook: async (message) => {
          await transports.webhook(message);
          await killDeliverer();
        },
      };
      await expect(deliver(crashing)).rejects.toThrow();
      expect(mailbox.length + hooks.length).toBe(1);
      expect((await outbox()).map((message) => [message.status, message.attempts])).toEqual([
        ['pending', 0],
        ['pending', 0],
      ]);

      expect(await deliver()).toEqual({ sent: 2, retrying: 0, failed: 0 });
      expect(mailbox.length + hooks.length).toBe(3);
      for (const mail of mailbox) expect(mail.headers.get('message-id')).toBe(`<${email!.id}@billing.local>`);
      for (const hook of hooks) expect(hook.headers['webhook-id']).toBe(webhook!.id);
    });
  });
});

// ================================================================ concurrency

describe('concurrent delivery', () => {
  /** Three alerts with email and webhook each: six messages in the outbox. */
  const givenSixMessages = async () => {
    const tenantId = await givenSubscribedTenant();
    for (const name of ['first', 'second', 'third']) await givenAlert(tenantId, 'email,webhook', `Alert ${name}`);
    await crossThreshold(tenantId);
    expect(await outbox()).toHaveLength(6);
  };

  const expectEachSentOnce = async () => {
    const messages = await outbox();
    expect(messages.map((message) => [message.status, message.attempts])).toEqual(Array(6).fill(['sent', 1]));
    const emailIds = messages.filter((m) => m.channel === 'email').map((m) => `<${m.id}@billing.local>`);
    const webhookIds = messages.filter((m) => m.channel === 'webhook').map((m) => m.id);
    expect(mailbox.map((mail) => mail.headers.get('message-id')).sort()).toEqual(emailIds.sort());
    expect(hooks.map((hook) => hook.headers['webhook-id']).sort()).toEqual(webhookIds.sort());
    expect(hooks.every((hook) => hook.signatureValid)).toBe(true);
  };

  it('sends each message once when two deliveries run at once', async () => {
    await givenSixMessages();
    // A slow receiver keeps each delivery inside its transaction while the other looks for work.
    hookDelayMs = 50;
    const summaries = await Promise.all([deliver(), deliver()]);
    expect(summaries.reduce((sum, summary) => sum + summary.sent, 0)).toBe(6);
    expect(summaries.every((summary) => summary.retrying === 0 && summary.failed === 0)).toBe(true);
    await expectEachSentOnce();
  });

  describe.skipIf(withoutServer)('from several processes (PostgreSQL)', () => {
    const replicas: DatabaseHandle[] = [];
    afterEach(async () => {
      for (const replica of replicas.splice(0)) await replica.close();
    });

    it('sends each message once when replicas on their own connection pools share the outbox', async () => {
      await givenSixMessages();
      for (let i = 0; i < 3; i += 1) {
        replicas.push(await openDatabase({ kind: 'server', url: t.database.url!, pool: defaultPoolConfig }));
      }
      hookDelayMs = 50;
      const summaries = await Promise.all(
        replicas.flatMap((replica) => [
          deliverNotifications(replica.db, t.clock, transports),
          deliverNotifications(replica.db, t.clock, transports),
        ]),
      );
      expect(summaries.reduce((sum, summary) => sum + summary.sent, 0)).toBe(6);
      await expectEachSentOnce();
    });
  });
});
