import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPlatformAdmin, asTenantAdmin, asTenantViewer } from '../../testing/api.js';
import { expectError, expectInvalid } from '../../testing/envelopes.js';
import {
  givenApp,
  givenInstrument,
  givenProduct,
  givenRecord,
  givenTenant,
  givenUsage,
  recordOf,
  recordsOf,
} from '../../testing/fixtures.js';
import { settlePayg } from '../payg/settle-payg.js';
import { hasPdfToText, pdfText } from '../../testing/pdf-text.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { RecordDetailView } from '../../testing/views.js';
import { Decimal } from 'decimal.js';
import { defaultIssuer } from '../../config.js';
import { decimalOf, majorToMinor } from '../../core/money.js';
import { pngImage } from '../../testing/images.js';
import { readIssuer } from '../issuer/read-issuer.js';
import { composeDocumentEmail } from './document-email.js';
import { formatMoney, formatNumber, formatUnitPrice, type DocumentLocale } from './format.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  t.clock.set('2026-04-01T02:00:00Z');
  await givenTenant(t, 'tnt_cny', { name: '上海云杉科技有限公司', currency: 'CNY' });
  await givenTenant(t, 'tnt_jpy', { name: 'Sakura KK', currency: 'JPY', time_zone: 'Asia/Tokyo', tax_rate: 0.1 });
  await givenTenant(t, 'tnt_kwd', { name: 'Gulf Apps', currency: 'KWD', time_zone: 'Asia/Kuwait', tax_rate: 0.05 });
  for (const tenant of ['tnt_cny', 'tnt_jpy', 'tnt_kwd']) await givenApp(t, tenant, appOf(tenant));
});
afterAll(() => t.close());

function appOf(tenantId: string): string {
  return tenantId.replace('tnt_', 'app_');
}

const documentUrl = (tenantId: string, recordId: string, format: 'pdf' | 'html', lang?: DocumentLocale) =>
  `/billing/records/${tenantId}/${recordId}/${format}${lang === undefined ? '' : `?lang=${lang}`}`;

/** A finalised record of `lines` lines, as the API shows it. */
const givenInvoice = async (tenantId: string, lines: number, finalize = true): Promise<RecordDetailView> =>
  givenRecord(t, tenantId, {
    app_id: appOf(tenantId),
    type: 'subscription',
    description: 'Professional plan, April',
    finalize,
    lines: Array.from({ length: lines }, (_, index) => ({
      description: index === 0 ? '专业版月度订阅' : `API requests, region ${index}`,
      resource_type: index === 0 ? 'subscription' : 'api_requests',
      quantity: index === 0 ? 1 : 1000 * index + 7,
      unit_price: index === 0 ? 99 : Number(`0.00${(index % 9) + 1}5`),
    })),
  });

/** Every figure of the record as the document must show it, formatted from the API's own numbers. */
const figuresOf = (record: RecordDetailView, locale: DocumentLocale): string[] => {
  const money = (major: number) =>
    formatMoney(majorToMinor(decimalOf(major), record.currency, Decimal.ROUND_HALF_UP), record.currency, locale);
  return [
    money(record.amount),
    money(record.tax_amount),
    money(record.total_amount),
    money(record.amount_paid),
    ...record.line_items.flatMap((line) => [
      money(line.amount),
      money(line.tax_amount),
      formatNumber(BigInt(line.quantity), locale),
      formatUnitPrice(String(line.unit_price), record.currency, locale),
    ]),
  ];
};
/** Spaces as a reader sees them: ICU puts a no-break space between a currency code and its amount. */
const flat = (text: string) => text.replace(/\s+/g, ' ');

const fetchDocument = async (tenantId: string, recordId: string, format: 'pdf' | 'html', lang?: DocumentLocale) => {
  const response = await asTenantViewer(t, tenantId).get(documentUrl(tenantId, recordId, format, lang));
  expect(response.statusCode, response.body).toBe(200);
  return response;
};

describe('invoice PDF', () => {
  it.skipIf(!hasPdfToText)(
    'holds every figure the API shows, in CNY, JPY and KWD, in Chinese and English, with Chinese extracted as Chinese',
    async () => {
      for (const tenantId of ['tnt_cny', 'tnt_jpy', 'tnt_kwd']) {
        const created = await givenInvoice(tenantId, 20);
        const record = await recordOf(t, tenantId, created.record_id);
        for (const lang of ['zh-CN', 'en'] as const) {
          const response = await fetchDocument(tenantId, record.record_id, 'pdf', lang);
          expect(response.headers['content-type']).toBe('application/pdf');
          expect(response.headers['content-disposition']).toBe(`inline; filename="${record.invoice_number}.pdf"`);
          const { text, pages } = await pdfText(response.rawPayload);
          if (process.env.BILLING_DOCUMENT_SAMPLES !== undefined) {
            await writeFile(`${process.env.BILLING_DOCUMENT_SAMPLES}/${tenantId}-${lang}.pdf`, response.rawPayload);
          }
          expect(pages).toBe(1);
          expect(text).toContain(record.invoice_number!);
          expect(text).toContain('专业版月度订阅');
          expect(text).toContain(lang === 'zh-CN' ? '账单' : 'Invoice');
          expect(text).toMatch(lang === 'zh-CN' ? /第\s*1\s*\/\s*1\s*页/ : /Page 1 \/ 1/);
          if (tenantId === 'tnt_cny') expect(text).toContain('上海云杉科技有限公司');
          for (const figure of figuresOf(record, lang))
            expect(flat(text), `${tenantId} ${lang}`).toContain(flat(figure));
        }
      }
    },
  );

  it('is the same bytes while the record is unchanged, answers 304 to its ETag, and changes when the record does', async () => {
    const record = await givenInvoice('tnt_cny', 3);
    const url = documentUrl('tnt_cny', record.record_id, 'pdf');
    const first = await fetchDocument('tnt_cny', record.record_id, 'pdf');
    t.clock.set('2026-04-03T00:00:00Z');
    const second = await fetchDocument('tnt_cny', record.record_id, 'pdf');
    expect(Buffer.compare(first.rawPayload, second.rawPayload)).toBe(0);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"pdf-[A-Za-z0-9_-]{32}"$/);
    expect(second.headers.etag).toBe(etag);
    expect(first.headers['cache-control']).toBe('private, no-cache');

    const unchanged = await asTenantViewer(t, 'tnt_cny').get(url, { headers: { 'if-none-match': etag } });
    expect(unchanged.statusCode).toBe(304);
    expect(unchanged.headers.etag).toBe(etag);
    expect(unchanged.rawPayload.length).toBe(0);

    const paid = await asPlatformAdmin(t).post(`/admin/records/tnt_cny/${record.record_id}/mark-paid`, {});
    expect(paid.statusCode, paid.body).toBe(200);
    const changed = await asTenantViewer(t, 'tnt_cny').get(url, { headers: { 'if-none-match': etag } });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    if (hasPdfToText) {
      // Marked paid by an admin, with nothing from the balance: paid offline.
      const { text } = await pdfText(changed.rawPayload);
      expect(text).toContain('已支付');
      expect(text).toMatch(/支付方式\s+线下支付/);
    }
  });

  it.skipIf(!hasPdfToText)('marks a draft as a draft, with no number, named after its id', async () => {
    const draft = await givenInvoice('tnt_cny', 2, false);
    for (const [lang, mark] of [
      ['zh-CN', '草稿'],
      ['en', 'DRAFT'],
    ] as const) {
      const response = await fetchDocument('tnt_cny', draft.record_id, 'pdf', lang);
      expect(response.headers['content-disposition']).toBe(`inline; filename="draft-${draft.record_id}.pdf"`);
      const { text } = await pdfText(response.rawPayload);
      expect(text).toContain(mark);
      expect(text).not.toMatch(/INV-\d{4}-\d+/);
    }
  });
});

describe('the parties on a document', () => {
  it.skipIf(!hasPdfToText)(
    "names the issuer's settings and the tenant's billing profile, and a new ETag when they change",
    async () => {
      await givenTenant(t, 'tnt_profile', {
        name: 'Profile Co',
        billing_profile: {
          legal_name: '北京示例科技有限公司',
          address: '北京市朝阳区建国路 88 号',
          tax_id: '91110105MA00ABCDE1',
          email: 'billing@example.cn',
        },
      });
      const record = await givenRecord(t, 'tnt_profile', {
        type: 'one_time',
        description: 'Setup',
        finalize: true,
        lines: [{ description: 'Setup', resource_type: 'setup', quantity: 1, unit_price: 500 }],
      });
      const before = await fetchDocument('tnt_profile', record.record_id, 'pdf');
      const saved = await asPlatformAdmin(t).put('/admin/settings/issuer', {
        legal_name: '身份平台有限公司',
        address: '上海市浦东新区世纪大道 100 号',
        tax_id: '91310115MA1K4ABCDE',
        email: 'finance@platform.example',
        logo: `data:image/png;base64,${pngImage().toString('base64')}`,
      });
      expect(saved.statusCode, saved.body).toBe(200);
      const after = await fetchDocument('tnt_profile', record.record_id, 'pdf');
      expect(after.headers.etag).not.toBe(before.headers.etag);
      const { text } = await pdfText(after.rawPayload);
      for (const shown of [
        '身份平台有限公司',
        '91310115MA1K4ABCDE',
        'finance@platform.example',
        '北京示例科技有限公司',
        '北京市朝阳区建国路 88 号',
        '91110105MA00ABCDE1',
        'billing@example.cn',
      ]) {
        expect(flat(text)).toContain(shown);
      }
      expect((await asPlatformAdmin(t).delete('/admin/settings/issuer')).statusCode).toBe(200);
    },
  );
});

describe('a pay-as-you-go record', () => {
  it.skipIf(!hasPdfToText)('shows the settled day as its period and what each instrument paid', async () => {
    t.clock.set('2026-04-01T01:00:00Z');
    await givenTenant(t, 'tnt_payg');
    await givenApp(t, 'tnt_payg', 'app_payg');
    await givenProduct(t, { billing_key: 'sms_verifications', display_name: 'SMS', unit_price: '0.045' });
    await givenInstrument(t, 'tnt_payg', 'coupons', { amount: 1, valid_to: '2026-12-31T00:00:00Z' });
    t.clock.set('2026-04-01T02:00:00Z');
    await givenUsage(t, { tenantId: 'tnt_payg', appId: 'app_payg', resourceType: 'sms_verifications', quantity: 100 });
    t.clock.set('2026-04-01T17:00:00Z'); // 01:00 on 2 April in Shanghai: the 1st has ended
    await settlePayg(t.database.db, t.clock);
    const record = (await recordsOf(t, 'tnt_payg')).find((candidate) => candidate.type === 'payg')!;
    const { text } = await pdfText((await fetchDocument('tnt_payg', record.record_id, 'pdf')).rawPayload);
    for (const shown of [
      '按量付费扣款明细',
      'app_payg',
      'sms_verifications',
      '¥4.50',
      '¥1.00',
      '¥3.50',
      '2026-04-01',
    ]) {
      expect(flat(text)).toContain(shown);
    }
    expect(flat(text)).toMatch(/服务期间\s*2026年4月1日\s*至\s*2026年4月1日/);
    expect(flat(text)).toContain('按量付费扣款');
  });
});

describe('the invoice email', () => {
  it.skipIf(!hasPdfToText)('carries the page as its body and the PDF attached, in the tenant’s language', async () => {
    const record = await recordOf(t, 'tnt_jpy', (await givenInvoice('tnt_jpy', 3)).record_id);
    const compose = composeDocumentEmail(t.database.db, () => readIssuer(t.database.db, defaultIssuer));
    const mail = await compose('tnt_jpy', record.record_id);
    expect(mail.subject).toBe(`Invoice ${record.invoice_number} · Billing Service`);
    expect(mail.attachment.filename).toBe(`${record.invoice_number}.pdf`);
    const total = formatMoney(majorToMinor(decimalOf(record.total_amount), 'JPY', Decimal.ROUND_HALF_UP), 'JPY', 'en');
    expect(flat((await pdfText(mail.attachment.content)).text)).toContain(flat(total));
    expect(flat(mail.html)).toContain(flat(total));
    expect(flat(mail.text)).toContain(`Total: ${flat(total)}`);
    await expect(compose('tnt_jpy', 'rec_0000000000000000')).rejects.toThrow(/billing record not found/);
  });
});

describe('invoice page', () => {
  it('is the same document as a printable page: escaped, no script, its own security policy', async () => {
    const record = await givenRecord(t, 'tnt_cny', {
      type: 'one_time',
      description: '<script>alert(1)</script> & more',
      finalize: true,
      lines: [{ description: 'Setup <b>fee</b>', resource_type: 'setup', quantity: 1, unit_price: 1234567.89 }],
    });
    const response = await fetchDocument('tnt_cny', record.record_id, 'html', 'en');
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response.body).not.toContain('<script>');
    expect(response.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more');
    expect(response.body).toContain('<html lang="en">');
    for (const figure of figuresOf(await recordOf(t, 'tnt_cny', record.record_id), 'en')) {
      expect(flat(response.body)).toContain(flat(figure));
    }
    const again = await asTenantViewer(t, 'tnt_cny').get(documentUrl('tnt_cny', record.record_id, 'html', 'en'), {
      headers: { 'if-none-match': response.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
  });
});

describe('document access', () => {
  it("lets the tenant's admins and viewers and platform admins read it, and nobody else", async () => {
    const record = await givenInvoice('tnt_cny', 1);
    const pdf = documentUrl('tnt_cny', record.record_id, 'pdf');
    expect((await asTenantAdmin(t, 'tnt_cny').get(pdf)).statusCode).toBe(200);
    expect((await asPlatformAdmin(t).get(pdf)).statusCode).toBe(200);
    expectError(await asTenantViewer(t, 'tnt_jpy').get(pdf), 403, 'forbidden');
    // Another tenant's record under one's own tenant id is simply not there.
    expectError(
      await asTenantViewer(t, 'tnt_jpy').get(documentUrl('tnt_jpy', record.record_id, 'pdf')),
      404,
      'not_found',
    );
  });

  it('answers 404 for an unknown record and 400 for a malformed id or language', async () => {
    expectError(
      await asTenantViewer(t, 'tnt_cny').get(documentUrl('tnt_cny', 'rec_0000000000000000', 'pdf')),
      404,
      'not_found',
    );
    expectInvalid(await asTenantViewer(t, 'tnt_cny').get('/billing/records/tnt_cny/rec_X/pdf'), 'record_id', 'path');
    const record = await givenInvoice('tnt_cny', 1);
    expectInvalid(
      await asTenantViewer(t, 'tnt_cny').get(`/billing/records/tnt_cny/${record.record_id}/html?lang=fr`),
      'lang',
      'query',
    );
  });
});
