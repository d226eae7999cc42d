/**
 * Valid-looking values for the JSON schemas of an OpenAPI document, so a test can send a request
 * that passes validation and then change one part of it.
 */
export interface JsonSchema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minProperties?: number;
  items?: JsonSchema;
  pattern?: string;
  format?: string;
  minLength?: number;
  minimum?: number;
  exclusiveMinimum?: number | boolean;
}

/** Values tried in turn for a string with a pattern; the first that matches is used. */
const patternCandidates = [
  'tnt_alpha',
  'app_alpha',
  'usr_alpha',
  'rec_0000000000000000',
  'key_0000000000000000',
  'ua_0000000000000000',
  'evt_0000000000000000',
  'api_calls',
  '2026-01-01',
  '2026-01-01T00:00:00Z',
  'CNY',
  '0.5',
  '1',
];

const formatSamples: Record<string, string> = {
  'date-time': '2026-01-01T00:00:00Z',
  date: '2026-01-01',
  email: 'ops@example.com',
  uri: 'https://example.com/hook',
  uuid: '00000000-0000-4000-8000-000000000000',
};

/** The schema a `$ref` points to, and the first non-null branch of a union, until neither is left. */
export const concrete = (schema: JsonSchema, components: Record<string, JsonSchema>): JsonSchema => {
  let current = schema;
  for (;;) {
    if (current.$ref !== undefined) current = components[current.$ref.split('/').pop()!] ?? {};
    else if (current.anyOf ?? current.oneOf) {
      const branches = (current.anyOf ?? current.oneOf)!;
      current = branches.find((branch) => branch.type !== 'null') ?? branches[0]!;
    } else if (current.allOf?.length === 1) current = current.allOf[0]!;
    else return current;
  }
};

/** A value the schema accepts, as far as simple rules can tell; `known` names win over the schema. */
export const sampleFor = (
  schema: JsonSchema,
  components: Record<string, JsonSchema>,
  known: Record<string, unknown>,
  name = '',
): unknown => {
  if (name in known) return known[name];
  const resolved = concrete(schema, components);
  if (resolved.const !== undefined) return resolved.const;
  if (resolved.enum !== undefined) return resolved.enum[0];
  switch (resolved.type) {
    case 'object': {
      // The required properties and the known ones, then optional ones while fewer than minProperties.
      const chosen = [
        ...(resolved.required ?? []),
        ...Object.keys(resolved.properties ?? {}).filter((key) => key in known),
      ];
      const optional = Object.keys(resolved.properties ?? {}).filter((key) => !chosen.includes(key));
      const keys = [
        ...new Set(chosen),
        ...optional.slice(0, Math.max(0, (resolved.minProperties ?? 0) - new Set(chosen).size)),
      ];
      return Object.fromEntries(
        keys.map((key) => [key, sampleFor(resolved.properties?.[key] ?? {}, components, known, key)]),
      );
    }
    case 'array':
      return [sampleFor(resolved.items ?? {}, components, known, name)];
    case 'integer':
    case 'number': {
      const minimum =
        resolved.minimum ?? (typeof resolved.exclusiveMinimum === 'number' ? resolved.exclusiveMinimum : 0);
      return minimum + 1;
    }
    case 'boolean':
      return false;
    case 'string': {
      if (resolved.format !== undefined && resolved.format in formatSamples) return formatSamples[resolved.format];
      if (resolved.pattern !== undefined) {
        const pattern = new RegExp(resolved.pattern);
        return patternCandidates.find((candidate) => pattern.test(candidate)) ?? 'x';
      }
      return 'x'.repeat(Math.max(1, resolved.minLength ?? 1));
    }
    default:
      return {};
  }
};
