import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { invalidParameter } from '../core/errors.js';

const sharedOptions: Options = {
  useDefaults: true,
  // Unknown fields are refused by `additionalProperties: false`, never silently dropped.
  removeAdditional: false,
  allErrors: false,
  strict: false,
};

// ajv-formats ships CommonJS whose default export is the plugin function.
export const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

/** Decimal notation only: ajv alone would read " " as 0 and "0x10" as 16. */
const numericText = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

type NumericFieldsSchema = { properties?: Record<string, { type?: unknown }> };
type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** Refuses query and path numbers that are not written in decimal, then lets ajv coerce the rest. */
const withDecimalNumbers = (
  schema: { properties?: Record<string, { type?: unknown }> },
  validate: ValidateFunction,
) => {
  const numericFields = Object.entries(schema.properties ?? {})
    .filter(([, property]) => property.type === 'number' || property.type === 'integer')
    .map(([name, property]) => ({ name, type: String(property.type) }));
  const validator: Validator = (data) => {
    for (const { name, type } of numericFields) {
      const raw = (data as Record<string, unknown> | null)?.[name];
      if (typeof raw === 'string' && !numericText.test(raw)) {
        validator.errors = [
          { instancePath: `/${name}`, schemaPath: '', keyword: 'type', params: { type }, message: `must be ${type}` },
        ];
        return false;
      }
    }
    const valid = validate(data);
    validator.errors = validate.errors ?? null;
    return valid;
  };
  return validator;
};

/**
 * Where a U+0000 sits in a parsed request part, in a string or a key (`['lines', '0',
 * 'description']`), or undefined. A loop over a stack, not recursion: no input can exhaust the
 * call stack.
 */
const nulCharacterAt = (root: unknown): string[] | undefined => {
  const pending: { value: unknown; path: string[] }[] = [{ value: root, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, path } = next;
    if (typeof value === 'string' && value.includes('\u0000')) return path;
    if (value === null || typeof value !== 'object') continue;
    // Reversed onto the stack, so values are visited in document order.
    for (const [key, item] of Object.entries(value).reverse()) {
      if (key.includes('\u0000')) return [...path, key];
      // Only what can hold a NUL is queued: a 100,000-number array costs one pass.
      if (typeof item === 'string' || (item !== null && typeof item === 'object')) {
        pending.push({ value: item, path: [...path, key] });
      }
    }
  }
  return undefined;
};

/**
 * Query strings, paths and headers arrive as text and are coerced to the schema's types; a body
 * is JSON and must already have them, so "0.06" is not accepted where a number is expected.
 */
export const installValidation = (app: FastifyInstance): void => {
  const coercing = addFormats(new Ajv({ ...sharedOptions, coerceTypes: true }));
  const strict = addFormats(new Ajv({ ...sharedOptions, coerceTypes: false }));
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body'
      ? strict.compile(schema)
      : withDecimalNumbers(schema as NumericFieldsSchema, coercing.compile(schema)),
  );
  // PostgreSQL text cannot hold U+0000: a 400 naming the field, not a 500 from the database.
  app.addHook('preValidation', async (request) => {
    for (const [location, value] of [
      ['body', request.body],
      ['query', request.query],
      ['path', request.params],
    ] as const) {
      const path = nulCharacterAt(value);
      if (path !== undefined) {
        throw invalidParameter(location, path.join('.') || location, 'must not contain the NUL character (U+0000)');
      }
    }
  });
};

/**
 * A field with a default: optional to the client (not in `required`, so the document says so), yet
 * typed as present, because validation (`useDefaults`) fills the default in before any handler runs.
 */
export const withDefault = <T extends TSchema>(schema: T): T => Type.Optional(schema);

/** A `preValidation` hook for POSTs whose body is all optional: no body at all reads as `{}`. */
export const emptyBodyIfAbsent = async (request: FastifyRequest): Promise<void> => {
  request.body ??= {};
};
