import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import { addFormats } from '../http/validation.js';

/**
 * Holds the app to its own OpenAPI document: every response the test suite provokes is checked
 * against the schema the served document gives for its operation and status. A status the
 * document does not list, a body that is not JSON, or a body that breaks the schema is a
 * mismatch; mismatches are collected here and fail the running test (see contract-setup.ts).
 */

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, OpenApiResponse> }>>;
  components?: Record<string, unknown>;
}

interface OpenApiResponse {
  content?: Record<string, { schema?: unknown }>;
}

const mismatches: string[] = [];

/** The mismatches seen since the last call, and forgets them. */
export const takeContractMismatches = (): string[] => mismatches.splice(0);

/** `/billing/tenants/:tenant_id` → `/billing/tenants/{tenant_id}`, as the document writes paths. */
const documentPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** What is wrong with a body, or undefined; `stage` says whether it was the object or the text sent. */
type Check = (body: string, stage?: string, contentType?: string) => string | undefined;

/**
 * What the document says a response holds: JSON fitting a schema, bytes of other media types (a
 * PDF, a page), nothing (304), or why the response is not in the document.
 */
type Expected = ValidateFunction | { mediaTypes: string[] } | string;

const checkerFor = (app: FastifyInstance) => {
  let document: OpenApiDocument | undefined;
  // OpenAPI 3.0 schemas: `nullable` is understood, `example` and the like are annotations.
  const ajv = addFormats(new Ajv({ strict: false, allErrors: true, validateSchema: false }));
  const compiled = new Map<string, Expected>();

  const validatorFor = (method: string, path: string, status: number): Expected => {
    const key = `${method} ${path} ${status}`;
    const known = compiled.get(key);
    if (known !== undefined) return known;
    document ??= app.swagger() as unknown as OpenApiDocument;
    const operation = document.paths[path]?.[method.toLowerCase()];
    const response = operation?.responses?.[String(status)];
    const schema = response?.content?.['application/json']?.schema;
    const found =
      operation === undefined
        ? `${method} ${path} is not in the document`
        : response === undefined
          ? `${method} ${path} answered ${status}, which the document does not list`
          : schema === undefined
            ? { mediaTypes: Object.keys(response.content ?? {}) }
            : ajv.compile({ ...(schema as object), components: document.components });
    compiled.set(key, found);
    return found;
  };

  return (request: FastifyRequest, status: number): Check | undefined => {
    const url = request.routeOptions.url;
    // Unknown routes (the not-found handler) and hidden ones (/metrics, /docs) are no operation.
    if (url === undefined || request.is404 || request.routeOptions.schema?.hide === true) return undefined;
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const at = `${request.method} ${documentPath(url)} → ${status}`;
    return (body, stage = 'sent', contentType = '') => {
      if (request.method === 'HEAD') return undefined;
      const where = stage === 'sent' ? at : `${at} (${stage})`;
      const validate = validatorFor(method, documentPath(url), status);
      // An operation or status the document lacks is reported once, with the body sent.
      if (typeof validate === 'string')
        return stage === 'sent' ? `${where}: ${validate}; body ${body.slice(0, 300)}` : undefined;
      if (typeof validate !== 'function') {
        if (stage !== 'sent') return undefined;
        const mediaType = contentType.split(';')[0]!.trim();
        if (validate.mediaTypes.length === 0)
          return body === '' ? undefined : `${where}: a body where the document lists none`;
        return validate.mediaTypes.includes(mediaType)
          ? undefined
          : `${where}: ${mediaType || 'no content type'}, where the document lists ${validate.mediaTypes.join(', ')}`;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return `${where}: the body is not JSON: ${body.slice(0, 300)}`;
      }
      if (validate(parsed)) return undefined;
      const problems = (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
      return `${where}: ${problems.slice(0, 5).join('; ')}; body ${body.slice(0, 300)}`;
    };
  };
};

const record = (problem: string | undefined) => {
  if (problem !== undefined) mismatches.push(problem);
};

/** Installs the check on an app before it is ready; used by every test that builds the app. */
export const checkResponsesAgainstDocument = (app: FastifyInstance): void => {
  const checkFor = checkerFor(app);
  // The object a handler answers, before the serializer drops what the schema lacks or turns a
  // null into "" or 0: what the server means to say must fit the document too.
  app.addHook('preSerialization', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const check = checkFor(request, reply.statusCode);
    if (check === undefined || payload === null || typeof payload !== 'object') return payload;
    let text: string;
    try {
      text = JSON.stringify(payload);
    } catch (error) {
      record(`${request.method} ${request.url} → ${reply.statusCode}: the answer is not JSON: ${String(error)}`);
      return payload;
    }
    record(check(text, 'before serialization'));
    return payload;
  });
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const check = checkFor(request, reply.statusCode);
    if (check === undefined) return payload;
    if (payload instanceof Readable) {
      // A streamed body (the export) is checked once it has all gone through, unchanged.
      const chunks: Buffer[] = [];
      const tee = new Transform({
        transform(chunk: Buffer | string, _encoding, done) {
          chunks.push(Buffer.from(chunk));
          done(null, chunk);
        },
        flush(done) {
          record(check(Buffer.concat(chunks).toString('utf8')));
          done();
        },
      });
      pipeline(payload, tee, () => undefined);
      return tee;
    }
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    record(check(body, 'sent', String(reply.getHeader('content-type') ?? '')));
    return payload;
  });
};
