import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResponsesAgainstDocument, takeContractMismatches } from './response-contract.js';

/** The test kit's own check: a small app whose one route answers in every way the check must judge. */
let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify();
  await app.register(swagger, { openapi: { openapi: '3.0.3', info: { title: 'contract', version: '1' } } });
  const Thing = {
    type: 'object',
    required: ['id', 'note'],
    properties: { id: { type: 'string' }, note: { type: 'string', nullable: true } },
  };
  app.get<{ Querystring: { answer: string } }>(
    '/things/:thing_id',
    { schema: { response: { 200: Thing } } },
    async (request, reply) => {
      switch (request.query.answer) {
        case 'documented':
          return { id: 'a', note: null };
        case 'broken':
          // A string is sent as it is, past the serializer: the way a body can break its schema.
          return reply.type('application/json').send('{"id":1}');
        case 'coerced':
          // The serializer writes "" for this null: the text fits, what the handler meant does not.
          return { id: null, note: null };
        case 'undocumented-status':
          return reply.code(202).send({ id: 'a', note: 'x' });
        case 'not-json':
          return reply.type('application/json').send('{"id":');
        case 'streamed-broken':
          return reply.type('application/json').send(Readable.from(['{"id":"a",', '"note":2}']));
        default:
          return reply.type('application/json').send(Readable.from(['{"id":"a",', '"note":"b"}']));
      }
    },
  );
  app.get('/hidden', { schema: { hide: true } }, async () => 'anything');
  checkResponsesAgainstDocument(app);
  await app.ready();
});
afterAll(() => app.close());

const answer = async (answer: string) => {
  const response = await app.inject({ url: `/things/t1?answer=${answer}` });
  return { status: response.statusCode, mismatches: takeContractMismatches() };
};

describe('the check of responses against the document', () => {
  it('passes a body that fits the schema of its operation and status, streamed or not', async () => {
    expect(await answer('documented')).toEqual({ status: 200, mismatches: [] });
    expect(await answer('streamed')).toEqual({ status: 200, mismatches: [] });
  });

  it('reports a body that breaks the schema, naming the operation, the status and the field', async () => {
    const { mismatches } = await answer('broken');
    expect(mismatches).toHaveLength(1);
    expect(mismatches[0]).toContain('GET /things/{thing_id} → 200');
    expect(mismatches[0]).toContain('/id must be string');
    expect(mismatches[0]).toContain("must have required property 'note'");
  });

  it('reports an answer the serializer would bend to fit (a null sent as "")', async () => {
    const { mismatches } = await answer('coerced');
    expect(mismatches).toEqual([expect.stringContaining('→ 200 (before serialization): /id must be string')]);
  });

  it('reports a streamed body that breaks the schema once it has been sent', async () => {
    const { mismatches } = await answer('streamed-broken');
    expect(mismatches).toEqual([expect.stringContaining('/note must be string')]);
  });

  it('reports a status the document does not list, and a body that is not JSON', async () => {
    expect((await answer('undocumented-status')).mismatches).toEqual([
      expect.stringContaining('answered 202, which the document does not list'),
    ]);
    expect((await answer('not-json')).mismatches).toEqual([expect.stringContaining('the body is not JSON')]);
  });

  it('leaves alone routes the document hides and requests no route answers', async () => {
    await app.inject({ url: '/hidden' });
    await app.inject({ url: '/nowhere' });
    expect(takeContractMismatches()).toEqual([]);
  });
});
