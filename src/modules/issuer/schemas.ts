import { Type, type Static } from 'typebox';
import { maxLogoBytes, maxLogoDataUrlLength } from '../../core/images.js';
import { nullablePartyField, partyFieldSchema } from '../../http/party-fields.js';

const logoDescription =
  `The logo as a data URL, \`data:image/png;base64,…\` or \`data:image/jpeg;base64,…\`: its bytes must be ` +
  `the declared type (checked by their first bytes) and at most ${maxLogoBytes} (200 KiB); null or absent: no logo`;

/** The whole issuer: what is left out is empty (PUT replaces). */
export const SaveIssuerBody = Type.Object(
  {
    legal_name: partyFieldSchema('legal_name'),
    address: Type.Optional(nullablePartyField('address')),
    tax_id: Type.Optional(nullablePartyField('tax_id')),
    email: Type.Optional(nullablePartyField('email')),
    phone: Type.Optional(nullablePartyField('phone')),
    logo: Type.Optional(
      Type.Union([Type.String({ maxLength: maxLogoDataUrlLength }), Type.Null()], {
        description: logoDescription,
        examples: ['data:image/png;base64,iVBORw0KGgo…'],
      }),
    ),
  },
  { additionalProperties: false },
);
export type SaveIssuerInput = Static<typeof SaveIssuerBody>;

const nullableText = (example: string | null) => Type.Union([Type.String(), Type.Null()], { examples: [example] });

export const IssuerSchema = Type.Object(
  {
    legal_name: Type.String({ examples: ['Example Cloud Ltd.'] }),
    address: nullableText('1 Example Road\nShanghai'),
    tax_id: nullableText('91310000MA1FL0000X'),
    email: nullableText('billing@example.com'),
    phone: nullableText('+86 21 5555 0100'),
    logo: Type.Union([Type.String(), Type.Null()], {
      description: 'The logo as a data URL (data:image/png;base64,… or data:image/jpeg;base64,…), or null',
      examples: [null],
    }),
    source: Type.Union([Type.Literal('settings'), Type.Literal('configuration')], {
      description:
        'settings: saved by PUT /admin/settings/issuer; configuration: the BILLING_ISSUER_* variables (nothing saved)',
    }),
    updated_at: Type.Union([Type.String(), Type.Null()], {
      description: 'When the settings were saved (RFC 3339); null for the configuration',
      examples: ['2026-04-01T00:00:00Z'],
    }),
  },
  { $id: 'DocumentIssuer', description: 'The platform operator printed as the issuer of every invoice' },
);
export type IssuerView = Static<typeof IssuerSchema>;
