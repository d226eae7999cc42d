import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { bareHost, isInternalAddress } from './url-rules.js';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What one attempt got: a 2xx is `ok`; anything else names what went wrong in `error`. */
export interface SendOutcome {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
  /** The first KiB of the answer's body (UTF-8, NULs dropped), if it answered. */
  responseBody: string | null;
}

export type WebhookSender = (request: WebhookRequest) => Promise<SendOutcome>;

export interface SenderSettings {
  allowInternalAddresses: boolean;
  timeoutMs?: number;
}

const responseBodyBytes = 1024;

const failure = (error: string, httpStatus: number | null = null, responseBody: string | null = null): SendOutcome => ({
  ok: false,
  httpStatus,
  error,
  responseBody,
});

const internalAddress = (host: string, address: string) =>
  new Error(
    `${host === address ? address : `${host} resolves to ${address}, which`} is an internal address; ` +
      'webhooks go only to public addresses unless BILLING_WEBHOOK_ALLOW_PRIVATE=true',
  );

/**
 * Resolves the host and refuses it if any of its addresses is internal; the connection then goes
 * to exactly the addresses checked here, so a name cannot resolve to a public address for the
 * check and to an internal one for the connection (DNS rebinding).
 */
const checkedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error !== null) {
      callback(error, '', 0);
      return;
    }
    const internal = addresses.find((entry) => isInternalAddress(entry.address));
    if (internal !== undefined) {
      callback(internalAddress(hostname, internal.address), '', 0);
      return;
    }
    if (options.all === true) {
      (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
      return;
    }
    const [first] = addresses;
    if (first === undefined) callback(new Error(`${hostname} has no address`), '', 0);
    else callback(null, first.address, first.family);
  });
};

/** At most 1 KiB of UTF-8, without NULs (a text column refuses them). */
const bodyText = (chunks: Buffer[]): string => {
  let text = Buffer.concat(chunks).subarray(0, responseBodyBytes).toString('utf8').replace(/\0/g, '');
  // A multi-byte character cut at the limit decodes to U+FFFD, which may take more bytes than it replaced.
  while (Buffer.byteLength(text) > responseBodyBytes) text = text.slice(0, -1);
  return text;
};

/**
 * POSTs webhooks: no redirects followed (a 3xx is a failure), one timeout for the whole exchange,
 * a fresh connection each time (a pooled one would skip the address check), and no internal
 * addresses unless allowed, whether the URL names one or its host resolves to one.
 */
export const createWebhookSender =
  ({ allowInternalAddresses, timeoutMs = 10_000 }: SenderSettings): WebhookSender =>
  (request) => {
    const url = new URL(request.url);
    const host = bareHost(url);
    if (!allowInternalAddresses && isIP(host) !== 0 && isInternalAddress(host)) {
      return Promise.resolve(failure(internalAddress(host, host).message));
    }
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<SendOutcome>((resolve) => {
      let settled = false;
      const settle = (outcome: SendOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const outgoing = transport.request(
        url,
        {
          method: 'POST',
          agent: false,
          headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
          ...(allowInternalAddresses ? {} : { lookup: checkedLookup }),
        },
        (response) => {
          const status = response.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let received = 0;
          const finish = () => {
            const responseBody = bodyText(chunks);
            response.destroy();
            if (status >= 200 && status < 300) settle({ ok: true, httpStatus: status, error: null, responseBody });
            else if (status >= 300 && status < 400)
              settle(failure(`answered a redirect (${status}), which is not followed`, status, responseBody));
            else settle(failure(`answered ${status}`, status, responseBody));
          };
          response.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            received += chunk.length;
            if (received >= responseBodyBytes) finish();
          });
          response.on('end', finish);
          response.on('error', finish);
        },
      );
      const timer = setTimeout(() => {
        outgoing.destroy(new Error(`no answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      outgoing.on('error', (error) => settle(failure(error.message)));
      outgoing.end(request.body);
    });
  };
