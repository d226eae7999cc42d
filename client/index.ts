/**
 * The billing service's typed client: openapi-fetch over the types openapi-typescript generates
 * from the service's OpenAPI document (schema.d.ts). Every path, parameter, body and answer is
 * typed; what a call returns is `{ data, error, response }`, `error` being the error envelope.
 *
 * Webhook verification, which needs node:crypto, is in verify-webhook.ts so that this file stays
 * usable in a browser.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';

/** A named schema of the document: `Schema<'Tenant'>`, `Schema<'BillingRecordResponse'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];
/** The envelope of every error answer: `{code, message, error: {type, details}, timestamp, request_id}`. */
export type ErrorResponse = Schema<'ErrorResponse'>;
/** The `/api/v1/…` (detail list) envelope, errors included. */
export type DetailError = Schema<'DetailError'>;

export type BillingClient = Client<paths>;

/** A credential, or a function giving the current one (called before every request: tokens expire). */
export type Credential = string | (() => string | Promise<string>);

export type BillingClientOptions = {
  /** Where the service is, e.g. `https://billing.example.com` (paths are appended to it). */
  baseUrl: string;
  /** A fetch to use instead of the global one (a test double, a proxy agent). */
  fetch?: (request: Request) => Promise<Response>;
} & (
  | {
      /** A JWT from the platform's auth service, sent as `Authorization: Bearer …`. */
      token?: Credential;
      apiKey?: never;
    }
  | {
      /** A tenant's API key (`dfk_…`), sent as `DF-API-KEY`. */
      apiKey: Credential;
      token?: never;
    }
);

const currentValue = async (credential: Credential): Promise<string> =>
  typeof credential === 'string' ? credential : credential();

/** A middleware setting `header` to `format(credential)` on every request. */
const credentialHeader = (header: string, credential: Credential, format: (value: string) => string): Middleware => ({
  async onRequest({ request }) {
    request.headers.set(header, format(await currentValue(credential)));
    return request;
  },
});

/**
 * A client of the service at `baseUrl`, authenticated by a bearer `token` or an `apiKey` (or
 * neither, for the public routes).
 *
 *   const billing = createBillingClient({ baseUrl, token });
 *   const { data, error } = await billing.GET('/billing/tenants/{tenant_id}', { params: { path: { tenant_id } } });
 */
export const createBillingClient = (options: BillingClientOptions): BillingClient => {
  if (!URL.canParse(options.baseUrl)) throw new TypeError(`baseUrl must be an absolute URL, got ${options.baseUrl}`);
  if (options.token !== undefined && options.apiKey !== undefined) {
    throw new TypeError('give either token or apiKey, not both');
  }
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  if (options.token !== undefined) {
    client.use(credentialHeader('authorization', options.token, (token) => `Bearer ${token}`));
  }
  if (options.apiKey !== undefined) {
    client.use(credentialHeader('df-api-key', options.apiKey, (key) => key));
  }
  return client;
};
