import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted, so two equal requests give one text whatever their key order.
 * Recursive, which is safe only because bodies nest at most `maxJsonDepth` levels (json-body.ts).
 */
export const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
};

export const requestFingerprint = (request: {
  method: string;
  route: string;
  params: unknown;
  body: unknown;
}): string => createHash('sha256').update(canonicalJson(request)).digest('hex');
