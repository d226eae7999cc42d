import type { InjectOptions } from 'fastify';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody, expectErrorEnvelope, expectNothingLeaked } from '../testing/envelopes.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';
import { maxJsonDepth } from './json-body.js';

/**
 * What the framework refuses before a handler runs (routing, URL decoding, body parsing) and what
 * Node's HTTP parser refuses before there is a request: every one in the documented envelope.
 */
let t: TestApp;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp();
  admin = await t.as.platformAdmin();
});
afterAll(() => t.close());

const json = { 'content-type': 'application/json' };

interface Case {
  name: string;
  request: (path: string) => InjectOptions;
  status: number;
  type: string;
  /** Under /api/v1/ a POST has no route: a body no parser takes is not read, so that is a 404. */
  v1Status?: number;
}

/** Each case on a POST path; `{path}` is a JSON write route, or a path under /api/v1/. */
const bodyCases: Case[] = [
  {
    name: 'malformed JSON',
    request: (url) => ({ method: 'POST', url, headers: json, payload: '{"name":' }),
    status: 400,
    type: 'validation_error',
  },
  {
    name: 'an empty JSON body',
    request: (url) => ({ method: 'POST', url, headers: json, payload: '' }),
    status: 400,
    type: 'validation_error',
  },
  {
    name: 'a __proto__ key',
    request: (url) => ({ method: 'POST', url, headers: json, payload: '{"__proto__":{"admin":true}}' }),
    status: 400,
    type: 'validation_error',
  },
  {
    name: 'a constructor.prototype key',
    request: (url) => ({ method: 'POST', url, headers: json, payload: '{"constructor":{"prototype":{}}}' }),
    status: 400,
    type: 'validation_error',
  },
  {
    name: `nesting deeper than ${maxJsonDepth}`,
    request: (url) => ({
      method: 'POST',
      url,
      headers: json,
      payload: `{"name":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
    }),
    status: 400,
    type: 'validation_error',
  },
  {
    name: 'a content-length that is not the body size',
    request: (url) => ({
      method: 'POST',
      url,
      headers: { ...json, 'content-length': '5' },
      payload: '{"name":"abcdef"}',
    }),
    status: 400,
    type: 'validation_error',
  },
  {
    name: 'a body over 1 MiB',
    request: (url) => ({
      method: 'POST',
      url,
      headers: json,
      payload: JSON.stringify({ name: 'x'.repeat(1024 * 1024) }),
    }),
    status: 413,
    type: 'payload_too_large',
  },
  {
    name: 'a text/plain body',
    request: (url) => ({ method: 'POST', url, headers: { 'content-type': 'text/plain' }, payload: 'name=x' }),
    status: 415,
    type: 'unsupported_media_type',
    v1Status: 404,
  },
  {
    name: 'an unparseable content-type',
    request: (url) => ({ method: 'POST', url, headers: { 'content-type': 'json;;/' }, payload: '{}' }),
    status: 415,
    type: 'unsupported_media_type',
  },
];

const withAdmin = (options: InjectOptions): InjectOptions => ({
  ...options,
  headers: { ...admin, ...(options.headers as Record<string, string>) },
});

describe('framework errors on the API', () => {
  it.each(bodyCases)('$name: $status in the envelope', async ({ request, status, type }) => {
    const response = await t.app.inject(withAdmin(request('/admin/tenants')));
    expectErrorEnvelope(response, status);
    expect(response.json()).toMatchObject({ error: { type } });
    expectNothingLeaked(response.body);
  });

  it('names the problem with the body', async () => {
    const deep = await t.app.inject(
      withAdmin(bodyCases.find((c) => c.name.startsWith('nesting'))!.request('/admin/tenants')),
    );
    expect(deep.json()).toMatchObject({
      message: `the request body nests arrays and objects deeper than ${maxJsonDepth} levels`,
      error: { details: [{ in: 'body' }] },
    });
    const malformed = await t.app.inject(withAdmin(bodyCases[0]!.request('/admin/tenants')));
    expect(malformed.json()).toMatchObject({ message: 'the request body is not valid JSON' });
  });

  it('a body nested exactly to the limit is parsed and validated as usual', async () => {
    const nested = `${'['.repeat(maxJsonDepth - 1)}${']'.repeat(maxJsonDepth - 1)}`;
    const response = await t.app.inject(
      withAdmin({
        method: 'POST',
        url: '/admin/tenants',
        headers: json,
        payload: `{"admin_user_id":"usr_x","name":${nested}}`,
      }),
    );
    expectErrorEnvelope(response, 400);
    expect(response.json()).toMatchObject({ error: { details: [{ in: 'body', parameter: 'name' }] } });
  });

  it('a path parameter over the length limit is 414 in the envelope', async () => {
    const response = await t.app.inject({ url: `/billing/tenants/${'x'.repeat(10_000)}`, headers: admin });
    expectErrorEnvelope(response, 414);
    expect(response.json()).toMatchObject({ error: { type: 'uri_too_long', details: [{ in: 'path' }] } });
    expect(response.body.length).toBeLessThan(1000);
  });

  it('a path that is not valid percent-encoding is 400 in the envelope', async () => {
    const response = await t.app.inject({
      url: '/billing/tenants/%zz',
      headers: { ...admin, 'x-request-id': 'req-bad-url' },
    });
    expectErrorEnvelope(response, 400);
    expect(response.json()).toMatchObject({ request_id: 'req-bad-url', error: { details: [{ in: 'path' }] } });
  });

  it('an unknown route and an unknown method are 404 in the envelope', async () => {
    expectErrorEnvelope(await t.app.inject({ url: '/billing/nothing', headers: admin }), 404);
    expectErrorEnvelope(
      await t.app.inject({ method: 'PROPFIND' as 'GET', url: '/admin/tenants', headers: admin }),
      404,
    );
  });
});

describe("the docs' static files", () => {
  it('a range past the end is 416 and a failed precondition 412, in the envelope', async () => {
    const file = '/docs/static/swagger-ui.css';
    const range = await t.app.inject({ url: file, headers: { range: 'bytes=99999999-' } });
    expectErrorEnvelope(range, 416);
    expect(range.json()).toMatchObject({ message: 'the request was refused: range not satisfiable' });
    expectErrorEnvelope(await t.app.inject({ url: file, headers: { 'if-match': '"another"' } }), 412);
  });
});

describe('framework errors under /api/v1/ use the detail-list envelope', () => {
  it.each(bodyCases)('$name', async ({ request, status, type, v1Status }) => {
    const response = await t.app.inject(request('/api/v1/billing/key'));
    expectErrorEnvelope(response, v1Status ?? status);
    if (v1Status === undefined) expect(response.json()).toMatchObject({ errorCode: type });
  });

  it('an over-long segment, a bad percent-encoding and an unknown route', async () => {
    expectErrorEnvelope(await t.app.inject(`/api/v1/billing/${'x'.repeat(10_000)}`), 404);
    expectErrorEnvelope(await t.app.inject('/api/v1/billing/%zz'), 400);
    expectErrorEnvelope(await t.app.inject('/api/v1/nothing'), 404);
  });
});

describe('what the HTTP parser refuses, answered on the socket', () => {
  let port: number;
  beforeAll(async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as { port: number }).port;
  });

  /** Sends raw bytes and reads until the server closes the connection. */
  const exchange = (bytes: string | ((socket: Socket) => void)) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        if (typeof bytes === 'string') socket.write(bytes);
        else bytes(socket);
      });
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });

  const expectRawEnvelope = (raw: string, status: number) => {
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head, raw).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head.toLowerCase()).toContain('content-type: application/json');
    expect(head.toLowerCase()).toMatch(/x-request-id: [0-9a-f-]{36}/);
    expectErrorBody(JSON.parse(body), status, false, raw);
  };

  it('a request line that is not HTTP is 400', async () => {
    expectRawEnvelope(await exchange('HELLO THERE\r\n\r\n'), 400);
  });

  it('headers over 16 KiB are 431, and so is a URL that long', async () => {
    expectRawEnvelope(await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431);
    expectRawEnvelope(await exchange(`GET /billing/tenants?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 431);
  });

  it('a request the server gave up waiting for is 408', async () => {
    const serverSide = new Promise<Socket>((resolve) => t.app.server.once('connection', resolve));
    const raw = exchange((client) => client.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    // Node checks request timeouts every 30 s; the event it then raises is raised here directly.
    const timeout = Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    t.app.server.emit('clientError', timeout, await serverSide);
    expectRawEnvelope(await raw, 408);
  });
});

describe('while the server closes', () => {
  it('a request that arrives is 503 in the envelope, the readiness probe too', async () => {
    // The last test of the file: it closes the shared app (the server listens since the tests above).
    const { port } = t.app.server.address() as { port: number };
    /** Opens a keep-alive connection now; `send` writes on it later and resolves with all it received. */
    const openConnection = () =>
      new Promise<{ socket: Socket; received: Promise<string> }>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        const received = new Promise<string>((done) => socket.on('close', () => done(text)));
        socket.on('error', reject);
        socket.on('connect', () => resolve({ socket, received }));
      });
    const [liveness, readiness] = await Promise.all([openConnection(), openConnection()]);
    // A first request waits for its body, so the server waits for it; the server starts closing;
    // then that body and a probe on each open connection arrive.
    liveness.socket.write(
      'POST /nothing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{',
    );
    await sleep(50);
    void t.app.close();
    await sleep(50);
    liveness.socket.write('}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    readiness.socket.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    const livenessText = await liveness.received;
    const probes = [livenessText.slice(livenessText.indexOf('HTTP/1.1', 1)), await readiness.received];
    for (const probe of probes) {
      expect(probe, probe).toMatch(/^HTTP\/1.1 503 /);
      expectErrorBody(JSON.parse(probe.slice(probe.indexOf('\r\n\r\n') + 4)), 503, false, probe);
    }
  });
});
