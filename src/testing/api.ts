import type { HTTPMethods, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { TestApp } from './test-app.js';

/** Who calls: a usual caller by role (a token minted at each call, as the clock then stands), or given headers. */
export type Caller =
  | { role: 'platform_admin' | 'service' }
  | { role: 'tenant_admin' | 'tenant_viewer'; tenant: string }
  | { headers: Record<string, string> };

export interface CallOptions {
  /** A POST's Idempotency-Key: a fresh one unless one is given; null sends none. */
  key?: string | null | undefined;
  /** Headers over the caller's. */
  headers?: Record<string, string> | undefined;
}

type Payload = InjectOptions['payload'];

/**
 * Routes called as someone. Each call answers with the response as injected: its `statusCode`,
 * its text `body`, `json()` for the parsed body, and its headers; the expectations of
 * envelopes.ts check and unwrap it.
 */
export interface ApiClient {
  get(url: string, options?: CallOptions): Promise<LightMyRequestResponse>;
  post(url: string, payload?: Payload, options?: CallOptions): Promise<LightMyRequestResponse>;
  put(url: string, payload?: Payload, options?: CallOptions): Promise<LightMyRequestResponse>;
  patch(url: string, payload?: Payload, options?: CallOptions): Promise<LightMyRequestResponse>;
  delete(url: string, options?: CallOptions): Promise<LightMyRequestResponse>;
}

let keySeq = 0;
/** An Idempotency-Key no other request of the test file has used. */
export const freshKey = (): string => `test-key-${++keySeq}`;

const callerHeaders = (t: TestApp, caller: Caller): Promise<Record<string, string>> | Record<string, string> => {
  if ('headers' in caller) return caller.headers;
  if ('tenant' in caller) return t.as.tenant(caller.tenant, caller.role);
  return caller.role === 'platform_admin' ? t.as.platformAdmin() : t.as.service();
};

export const api = (t: TestApp) => ({
  as: (caller: Caller): ApiClient => {
    const call = async (
      method: HTTPMethods,
      url: string,
      payload: Payload,
      options: CallOptions = {},
    ): Promise<LightMyRequestResponse> => {
      const key = method === 'POST' && options.key === undefined ? freshKey() : options.key;
      return t.app.inject({
        method,
        url,
        headers: {
          ...(await callerHeaders(t, caller)),
          ...(key === undefined || key === null ? {} : { 'idempotency-key': key }),
          ...options.headers,
        },
        ...(payload === undefined ? {} : { payload }),
      });
    };
    return {
      get: (url, options) => call('GET', url, undefined, options),
      post: (url, payload, options) => call('POST', url, payload, options),
      put: (url, payload, options) => call('PUT', url, payload, options),
      patch: (url, payload, options) => call('PATCH', url, payload, options),
      delete: (url, options) => call('DELETE', url, undefined, options),
    };
  },
});

/** The usual callers, for brevity where a test calls as them often. */
export const asPlatformAdmin = (t: TestApp): ApiClient => api(t).as({ role: 'platform_admin' });
export const asService = (t: TestApp): ApiClient => api(t).as({ role: 'service' });
export const asTenantAdmin = (t: TestApp, tenant: string): ApiClient => api(t).as({ role: 'tenant_admin', tenant });
export const asTenantViewer = (t: TestApp, tenant: string): ApiClient => api(t).as({ role: 'tenant_viewer', tenant });
