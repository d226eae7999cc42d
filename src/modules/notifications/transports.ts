import type { Selectable } from 'kysely';
import { createTransport } from 'nodemailer';
import type { Clock } from '../../core/clock.js';
import type { NotificationOutboxTable } from '../../db/schema.js';
import { signWebhook } from './webhook-signature.js';

export type OutboxMessage = Selectable<NotificationOutboxTable>;

/** How outbox messages leave the service; tests and the server build them from configuration. */
export interface Transports {
  email(message: OutboxMessage): Promise<void>;
  webhook(message: OutboxMessage): Promise<void>;
}

export interface TransportConfig {
  smtpUrl: string | undefined;
  smtpFrom: string;
  clock: Clock;
  webhookTimeoutMs?: number;
}

export const createTransports = ({
  smtpUrl,
  smtpFrom,
  clock,
  webhookTimeoutMs = 10_000,
}: TransportConfig): Transports => {
  // A mail relay that hangs must not hold a delivery (and its row lock) for nodemailer's minutes.
  const mailer =
    smtpUrl === undefined
      ? undefined
      : createTransport({ url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 10_000 });
  return {
    email: async (message) => {
      if (mailer === undefined) throw new Error('email is not configured: set SMTP_URL');
      const { text } = message.payload as { text: string };
      await mailer.sendMail({
        from: smtpFrom,
        to: message.destination,
        subject: message.subject,
        text,
        // The same id on a resend after a crash lets mail systems and readers see one message.
        messageId: `<${message.id}@billing.local>`,
      });
    },
    webhook: async (message) => {
      if (message.signing_secret === null) throw new Error('a webhook message has no signing secret');
      const body = JSON.stringify(message.payload);
      // The delivery's own second: receivers check it against their clock to refuse replays.
      const timestamp = Math.floor(clock.now().getTime() / 1000);
      const response = await fetch(message.destination, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          // Receivers dedupe on webhook-id: a resend after a crash carries the same one.
          'webhook-id': message.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(message.signing_secret, message.id, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(webhookTimeoutMs),
        redirect: 'error',
      });
      if (!response.ok) throw new Error(`webhook answered ${response.status}`);
    },
  };
};
