import { randomBytes } from 'node:crypto';
import { invalidParameter } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';

export const notificationChannels = ['email', 'in_app', 'webhook'] as const;
export type NotificationChannel = (typeof notificationChannels)[number];

export interface AlertDelivery {
  channels: NotificationChannel[];
  emailRecipients: string | null;
  webhookUrl: string | null;
}

const emailPattern = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

export const parseChannels = (text: string): NotificationChannel[] =>
  text.split(',').map((part) => part.trim()) as NotificationChannel[];

/**
 * Checks what a schema cannot: known channels, each once; addresses for email and an http(s)
 * URL for webhooks exactly when those channels are on. Normalises the lists ("email, in_app" →
 * "email,in_app").
 */
export const validateDelivery = (
  channelsText: string,
  emails: string | null,
  webhookUrl: string | null,
): Result<AlertDelivery> => {
  const channels = parseChannels(channelsText);
  for (const channel of channels) {
    if (!(notificationChannels as readonly string[]).includes(channel)) {
      return fail(
        invalidParameter(
          'body',
          'notification_channels',
          `"${channel}" is not one of ${notificationChannels.join(', ')}`,
        ),
      );
    }
  }
  if (new Set(channels).size !== channels.length) {
    return fail(invalidParameter('body', 'notification_channels', 'names a channel twice'));
  }
  let emailRecipients: string | null = null;
  if (channels.includes('email')) {
    const addresses = (emails ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '');
    if (addresses.length === 0)
      return fail(invalidParameter('body', 'email_recipients', 'is required with the email channel'));
    const bad = addresses.find((address) => !emailPattern.test(address));
    if (bad !== undefined)
      return fail(invalidParameter('body', 'email_recipients', `"${bad}" is not an email address`));
    emailRecipients = addresses.join(',');
  } else if (emails !== null) {
    return fail(invalidParameter('body', 'email_recipients', 'is only for the email channel'));
  }
  if (channels.includes('webhook')) {
    if (webhookUrl === null)
      return fail(invalidParameter('body', 'webhook_url', 'is required with the webhook channel'));
    let url: URL;
    try {
      url = new URL(webhookUrl);
    } catch {
      return fail(invalidParameter('body', 'webhook_url', 'is not a URL'));
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return fail(invalidParameter('body', 'webhook_url', 'must be an http or https URL'));
    }
  } else if (webhookUrl !== null) {
    return fail(invalidParameter('body', 'webhook_url', 'is only for the webhook channel'));
  }
  return ok({ channels, emailRecipients, webhookUrl: channels.includes('webhook') ? webhookUrl : null });
};

/** A Standard Webhooks signing secret: `whsec_` and 24 random bytes in base64. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;
