/**
 * The fields that name a party on an invoice: a tenant's billing profile (the customer) and the
 * issuer (the platform operator). One set of rules for the API's schemas, the configuration's
 * `BILLING_ISSUER_*` variables and what the documents print. Patterns are JSON Schema (ECMAScript)
 * text, so the OpenAPI document states them as they are checked.
 */

/** C0 and C1 control characters and DEL. */
const control = '\\u0000-\\u001f\\u007f-\\u009f';
/** The same but line feed and carriage return: an address may run over several lines. */
const controlButNewlines = '\\u0000-\\u0009\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f';

/** A local part of at most 64 dot-atom characters, `@`, and a domain of at least two DNS labels. */
const label = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
export const emailPattern = `^[A-Za-z0-9.!#$%&'*+/=?^_\`{|}~-]{1,64}@${label}(?:\\.${label})+$`;

export interface PartyFieldRule {
  maxLength: number;
  pattern: string;
  /** What the rule asks, for the documentation and the configuration's messages. */
  description: string;
}

export const partyFieldRules = {
  legal_name: {
    maxLength: 200,
    pattern: `^[^${control}]*[^${control}\\s][^${control}]*$`,
    description: '1–200 characters, not only spaces, no control characters',
  },
  address: {
    maxLength: 500,
    pattern: `^[^${controlButNewlines}]*[^${control}\\s][^${controlButNewlines}]*$`,
    description: '1–500 characters, not only spaces; line breaks allowed, no other control characters',
  },
  tax_id: {
    maxLength: 64,
    pattern: '^[A-Za-z0-9 ./-]+$',
    description: '1–64 characters of A–Z, a–z, 0–9, space, ".", "/" and "-"',
  },
  email: {
    maxLength: 254,
    pattern: emailPattern,
    description: 'one email address (name@example.com), at most 254 characters',
  },
  phone: {
    maxLength: 40,
    pattern: '^[0-9 +()./-]*[0-9][0-9 +()./-]*$',
    description: '1–40 characters of digits, space, "+", "(", ")", ".", "/" and "-"',
  },
} as const satisfies Record<string, PartyFieldRule>;

export type PartyField = keyof typeof partyFieldRules;

const compiled = Object.fromEntries(
  Object.entries(partyFieldRules).map(([field, rule]) => [field, new RegExp(rule.pattern, 'u')]),
) as Record<PartyField, RegExp>;

/** Whether `value` obeys the field's rule (length in code points, as JSON Schema counts it). */
export const isValidPartyField = (field: PartyField, value: string): boolean =>
  [...value].length <= partyFieldRules[field].maxLength && compiled[field].test(value);
