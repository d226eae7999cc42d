import { Type, type TString } from 'typebox';
import { partyFieldRules, type PartyField } from '../core/party-fields.js';

const examples: Record<PartyField, string> = {
  legal_name: 'Acme Corp Ltd.',
  address: '1 Century Avenue\nPudong, Shanghai 200120',
  tax_id: '91310000MA1FL0000X',
  email: 'billing@acme.example',
  phone: '+86 21 5555 0100',
};

/** A field of a party on an invoice (billing profile, issuer) as requests give it: its rule from src/core/party-fields.ts. */
export const partyFieldSchema = (
  field: PartyField,
  { withExample = true, description }: { withExample?: boolean; description?: string } = {},
): TString =>
  Type.String({
    minLength: 1,
    maxLength: partyFieldRules[field].maxLength,
    pattern: partyFieldRules[field].pattern,
    description:
      description === undefined
        ? partyFieldRules[field].description
        : `${description}: ${partyFieldRules[field].description}`,
    ...(withExample ? { examples: [examples[field]] } : {}),
  });

/**
 * A party's field in a request body: a value, or null to clear it. The example sits on the union
 * and nothing else, so the OpenAPI 3.0 document reads it as one nullable string.
 */
export const nullablePartyField = (field: PartyField, description?: string) =>
  Type.Union(
    [
      partyFieldSchema(field, { withExample: false, ...(description === undefined ? {} : { description }) }),
      Type.Null(),
    ],
    { examples: [examples[field]] },
  );
/** The language of a tenant's documents. */
export const localeSchema = (description = 'Language of invoice documents and their emails') =>
  Type.Union([Type.Literal('zh-CN'), Type.Literal('en')], {
    description,
    examples: ['zh-CN'],
  });
