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
export const partyFieldSchema = (field: PartyField): TString =>
  Type.String({
    minLength: 1,
    maxLength: partyFieldRules[field].maxLength,
    pattern: partyFieldRules[field].pattern,
    description: partyFieldRules[field].description,
    examples: [examples[field]],
  });

/** A party's field in a request body: a value, or null to clear it. */
export const nullablePartyField = (field: PartyField, description?: string) =>
  Type.Union([partyFieldSchema(field), Type.Null()], description === undefined ? {} : { description });

/** The language of a tenant's documents. */
export const localeSchema = (description = 'Language of invoice documents and their emails') =>
  Type.Union([Type.Literal('zh-CN'), Type.Literal('en')], {
    description,
    examples: ['zh-CN'],
  });
