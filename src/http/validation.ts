import { Ajv, type Options } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

const sharedOptions: Options = {
  useDefaults: true,
  // Unknown fields are refused by `additionalProperties: false`, never silently dropped.
  removeAdditional: false,
  allErrors: false,
  strict: false,
};

// ajv-formats ships CommonJS whose default export is the plugin function.
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

/**
 * Query strings, paths and headers arrive as text and are coerced to the schema's types; a body
 * is JSON and must already have them, so "0.06" is not accepted where a number is expected.
 */
export const installValidation = (app: FastifyInstance): void => {
  const coercing = addFormats(new Ajv({ ...sharedOptions, coerceTypes: true }));
  const strict = addFormats(new Ajv({ ...sharedOptions, coerceTypes: false }));
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );
};
