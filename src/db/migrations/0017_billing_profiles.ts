import type { Kysely } from 'kysely';
import { executeStatements } from '../statements.js';

/** Checks of a party's fields (src/core/party-fields.ts holds the full rules; these keep rows sane). */
const partyChecks = (prefix: string, nameNullable: boolean): string[] => [
  `check (${nameNullable ? `${prefix}legal_name is null or ` : ''}(length(${prefix}legal_name) between 1 and 200
          and ${prefix}legal_name !~ '[[:cntrl:]]'))`,
  `check (${prefix}address is null or (length(${prefix}address) between 1 and 500
          and ${prefix}address !~ '[\\x01-\\x09\\x0b\\x0c\\x0e-\\x1f\\x7f]'))`,
  `check (${prefix}tax_id is null or ${prefix}tax_id ~ '^[A-Za-z0-9 ./-]{1,64}$')`,
  `check (${prefix}email is null or (length(${prefix}email) <= 254 and ${prefix}email ~ '^[^@[:space:],]+@[^@[:space:],]+$'))`,
];

/**
 * Invoice documents' data and mail:
 *
 * - A tenant's billing profile (who its invoices are addressed to) and the language of its
 *   documents. Existing tenants get `zh-CN` when they bill in CNY, `en` otherwise; a tenant
 *   inserted without a locale gets the same by a trigger, so the rule is in one place.
 * - `document_issuer`: at most one row (its key can only be true), the platform operator printed
 *   on every invoice; absent, the configuration's `BILLING_ISSUER_*` is used.
 * - The invoice email: a statement trigger on `events`, as the webhook fan-out (0011), queues one
 *   outbox message per `billing_record.finalized` event of a tenant with a billing email, in
 *   the transaction that finalised the record. Its id is `doc_` and the record id, and a second
 *   event for the same record (none is written, but a replay could) finds it taken: never twice.
 */
export const up = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    `alter table tenants
       add column billing_legal_name text,
       add column billing_address text,
       add column billing_tax_id text,
       add column billing_email text,
       add column locale text check (locale in ('zh-CN', 'en'))`,
    ...partyChecks('billing_', true).map((check) => `alter table tenants add ${check}`),
    `update tenants set locale = case when currency = 'CNY' then 'zh-CN' else 'en' end`,
    `alter table tenants alter column locale set not null`,
    `create function tenant_default_locale() returns trigger language plpgsql as $$
     begin
       new.locale := case when new.currency = 'CNY' then 'zh-CN' else 'en' end;
       return new;
     end $$`,
    `create trigger tenants_default_locale before insert on tenants
       for each row when (new.locale is null) execute function tenant_default_locale()`,

    `create table document_issuer (
       id boolean primary key default true check (id),
       legal_name text not null,
       address text,
       tax_id text,
       email text,
       phone text check (phone is null or (length(phone) between 1 and 40 and phone ~ '^[0-9 +()./-]+$')),
       logo bytea check (logo is null or octet_length(logo) <= 204800),
       logo_type text check (logo_type in ('image/png', 'image/jpeg')),
       updated_at timestamptz not null,
       updated_by text not null,
       ${partyChecks('', false).join(',\n       ')},
       check ((logo is null) = (logo_type is null))
     )`,

    `create function invoice_document_outbox() returns trigger language plpgsql as $$
     begin
       insert into notification_outbox (tenant_id, id, channel, destination, subject, payload, status,
                                        next_attempt_at, created_at)
       select event.tenant_id, 'doc_' || (event.data ->> 'record_id'), 'email', tenant.billing_email,
              coalesce(event.data ->> 'invoice_number', event.data ->> 'record_id'),
              jsonb_build_object('kind', 'invoice_document', 'record_id', event.data ->> 'record_id'),
              'pending', event.created_at, event.created_at
         from new_events event
         join tenants tenant on tenant.id = event.tenant_id
        where event.type = 'billing_record.finalized' and tenant.billing_email is not null
       on conflict (tenant_id, id) do nothing;
       return null;
     end
     $$`,
    `create trigger events_invoice_document_outbox after insert on events
       referencing new table as new_events
       for each statement execute function invoice_document_outbox()`,
  ]);

export const down = (db: Kysely<unknown>): Promise<void> =>
  executeStatements(db, [
    'drop trigger events_invoice_document_outbox on events',
    'drop function invoice_document_outbox()',
    'drop table document_issuer',
    'drop trigger tenants_default_locale on tenants',
    'drop function tenant_default_locale()',
    `alter table tenants
       drop column billing_legal_name,
       drop column billing_address,
       drop column billing_tax_id,
       drop column billing_email,
       drop column locale`,
  ]);
