import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { vi } from 'vitest';
import type { Clock } from '../core/clock.js';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The secrets (of those the receiver holds for its path) the `standardwebhooks` package verified it with. */
  verifiedWith: string[];
}

export interface WebhookReceiver {
  url(path: string): string;
  /** Every request received, in order. */
  received: ReceivedWebhook[];
  /** The secrets a path verifies with (what its endpoint's create or rotation answer showed). */
  secrets: Map<string, string[]>;
  /** Statuses a path answers with, in turn; 200 once they run out. */
  answers: Map<string, number[]>;
  /** Milliseconds to wait before answering. */
  delayMs: number;
  close(): Promise<void>;
}

/**
 * A receiver on 127.0.0.1 that checks every signature with the `standardwebhooks` package (not
 * the service's code), its clock agreeing with the service's (`clock`), as a receiver's would.
 */
export const startWebhookReceiver = async (clock: Clock): Promise<WebhookReceiver> => {
  const receiver: Omit<WebhookReceiver, 'url' | 'close'> = {
    received: [],
    secrets: new Map(),
    answers: new Map(),
    delayMs: 0,
  };
  const verifies = (secret: string, body: string, headers: IncomingHttpHeaders): boolean => {
    vi.useFakeTimers({ toFake: ['Date'], now: clock.now() });
    try {
      new Webhook(secret).verify(body, headers as Record<string, string>);
      return true;
    } catch {
      return false;
    } finally {
      vi.useRealTimers();
    }
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = request.url ?? '';
      const secrets = receiver.secrets.get(path) ?? [];
      receiver.received.push({
        path,
        headers: request.headers,
        body,
        verifiedWith: secrets.filter((secret) => verifies(secret, body, request.headers)),
      });
      const status = receiver.answers.get(path)?.shift() ?? 200;
      setTimeout(
        () => response.writeHead(status, { 'content-type': 'text/plain' }).end(`answer ${status}`),
        receiver.delayMs,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  });
};
