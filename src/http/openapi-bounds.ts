type Json = unknown;

/**
 * JSON Schema (what TypeBox writes and ajv validates with) gives an exclusive bound as a number,
 * `exclusiveMaximum: 1`; OpenAPI 3.0 takes the bound in `maximum` and a boolean beside it. A copy
 * of the document with every such bound rewritten; the route schemas themselves are not touched.
 */
export const toOpenApi30Bounds = <T>(document: T): T => rewrite(document) as T;

const rewrite = (value: Json): Json => {
  if (Array.isArray(value)) return value.map(rewrite);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, Json> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = rewrite(item);
  for (const [exclusive, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    const limit = copy[exclusive];
    if (typeof limit === 'number') {
      copy[bound] = limit;
      copy[exclusive] = true;
    }
  }
  return copy;
};
