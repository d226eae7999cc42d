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

/** An invoice document's email: HTML and text bodies and the invoice's PDF. */
export interface DocumentEmail {
  subject: string;
  html: string;
  text: string;
  attachment: { filename: string; content: Buffer; contentType: 'application/pdf' };
}

/**
 * Composes the email of a finalised record's invoice document (the documents module). Called at
 * each delivery attempt; a rejection is a failed delivery, retried on the outbox's schedule.
 */
export type ComposeDocumentEmail = (tenantId: string, recordId: string) => Promise<DocumentEmail>;

/** The payload of an invoice email queued by the outbox trigger of migration 0017. */
interface InvoiceDocumentPayload {
  kind: 'invoice_document';
  record_id: string;
}

const isInvoiceDocument = (payload: unknown): payload is InvoiceDocumentPayload =>
  typeof payload === 'object' &&
  payload !== null &&
  (payload as Record<string, unknown>).kind === 'invoice_document' &&
  typeof (payload as Record<string, unknown>).record_id === 'string';

export interface TransportConfig {
  smtpUrl: string | undefined;
  smtpFrom: string;
  clock: Clock;
  webhookTimeoutMs?: number;
  /**
   * Invoice emails' content. Required, so every place that builds transports decides; null:
   * invoice documents are off, and an invoice email fails (and is retried) saying so.
   */
  composeDocumentEmail: ComposeDocumentEmail | null;
}

export const createTransports = ({
  smtpUrl,
  smtpFrom,
  clock,
  webhookTimeoutMs = 10_000,
  composeDocumentEmail,
}: TransportConfig): Transports => {
  // A mail relay that hangs must not hold a delivery (and its row lock) for nodemailer's minutes.
  const mailer =
    smtpUrl === undefined
      ? undefined
      : createTransport({ url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 10_000 });
  return {
    email: async (message) => {
      if (mailer === undefined) throw new Error('email is not configured: set SMTP_URL');
      // The same id on a resend after a crash lets mail systems and readers see one message.
      const messageId = `<${message.id}@billing.local>`;
      if (isInvoiceDocument(message.payload)) {
        if (composeDocumentEmail === null) throw new Error('invoice documents are not configured in this process');
        const mail = await composeDocumentEmail(message.tenant_id, message.payload.record_id);
        await mailer.sendMail({
          from: smtpFrom,
          to: message.destination,
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
          attachments: [mail.attachment],
          messageId,
        });
        return;
      }
      const { text } = message.payload as { text: string };
      await mailer.sendMail({ from: smtpFrom, to: message.destination, subject: message.subject, text, messageId });
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
