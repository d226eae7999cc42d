import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { priceLine, sumLines } from '../../core/invoice-math.js';
import type { RecordStatus } from '../../db/schema.js';
import { hasPdfToText, pdfText } from '../../testing/pdf-text.js';
import type { RecordDetailView } from '../../testing/views.js';
import type { LineRow } from '../billing-records/repository.js';
import { toRecordDetailView } from '../billing-records/view.js';
import { buildDocumentContent, type DocumentData } from './content.js';
import { renderPdf } from './pdf.js';
import { fontParses } from './pdf-fonts.js';

const at = new Date('2026-04-01T00:00:00Z');

/** A record as storage holds it, priced by the same code as every record. */
const recordData = (
  currency: string,
  lines: { quantity: bigint; unitPrice: string; taxRate: string }[],
  status: RecordStatus,
  paidShare: number,
): DocumentData => {
  const priced = lines.map((line, index) => ({ ...line, ...priceLine(line, currency), lineNo: index + 1 }));
  const totals = sumLines(priced);
  const amountPaid = (totals.totalAmount * BigInt(Math.round(paidShare * 100))) / 100n;
  const rows: LineRow[] = priced.map((line) => ({
    tenant_id: 'tnt_doc',
    record_id: 'rec_0123456789abcdef',
    line_no: line.lineNo,
    description: `Line ${line.lineNo}`,
    resource_type: 'api_requests',
    quantity: line.quantity,
    unit_price: line.unitPrice,
    amount: line.amount,
    tax_rate: line.taxRate,
    tax_amount: line.taxAmount,
  }));
  return {
    record: {
      tenant_id: 'tnt_doc',
      id: 'rec_0123456789abcdef',
      app_id: null,
      type: 'one_time',
      status,
      currency,
      description: 'Random record',
      amount: totals.amount,
      tax_amount: totals.taxAmount,
      total_amount: totals.totalAmount,
      invoice_number: status === 'draft' ? null : 'INV-2026-042',
      search_text: '',
      amount_paid: status === 'draft' ? 0n : amountPaid,
      created_at: at,
      finalized_at: status === 'draft' ? null : at,
      due_at: null,
      overdue_at: null,
      updated_at: at,
      lines: rows,
      events: [],
    },
    customer: {
      id: 'tnt_doc',
      name: 'Doc Tenant',
      timeZone: 'Asia/Shanghai',
      legalName: null,
      address: null,
      taxId: null,
      email: null,
    },
    issuer: { legalName: 'Billing Service', address: null, taxId: null, email: null, phone: null, logo: null },
    servicePeriod: null,
    paymentMethods: [],
    usage: [],
    payg: [],
  };
};

/** The number a formatted figure shows: its digits and point, whatever the symbol and grouping. */
const shown = (text: string): Decimal => new Decimal(text.replace(/[^0-9.-]/g, ''));

const sameNumber = (text: string, api: number) =>
  expect(shown(text).equals(new Decimal(String(api))), `${text} vs ${api}`).toBe(true);

describe('document figures', () => {
  it('every money figure on the document equals the API’s, for random records in any currency and language', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('CNY', 'JPY', 'KWD', 'USD'),
        fc.array(
          fc.record({
            // Within what the service accepts: a record stays under 10^15 minor units.
            quantity: fc.bigInt({ min: 0n, max: 10n ** 6n }),
            // Up to the 10 decimals the API takes.
            unitPrice: fc
              .tuple(fc.integer({ min: 0, max: 99_999 }), fc.bigInt({ min: 0n, max: 9_999_999_999n }))
              .map(
                ([whole, fraction]) => `${whole}.${String(fraction).padStart(10, '0')}`.replace(/\.?0+$/, '') || '0',
              ),
            taxRate: fc.constantFrom('0', '0.06', '0.1', '0.13', '0.0825'),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.record({
          status: fc.constantFrom<RecordStatus>('draft', 'pending', 'paid', 'failed', 'refunded'),
          paidShare: fc.double({ min: 0, max: 1, noNaN: true }),
          locale: fc.constantFrom('zh-CN' as const, 'en' as const),
        }),
        (currency, lines, { status, paidShare, locale }) => {
          const data = recordData(currency, lines, status, paidShare);
          const api = toRecordDetailView(data.record) as RecordDetailView;
          const content = buildDocumentContent(data, locale);
          const [subtotal, tax, total, paid, due] = content.totals.map((row) => row.value);
          sameNumber(subtotal!, api.amount);
          sameNumber(tax!, api.tax_amount);
          sameNumber(total!, api.total_amount);
          sameNumber(paid!, api.amount_paid);
          const owed =
            status === 'paid' || status === 'refunded'
              ? 0
              : new Decimal(String(api.total_amount)).minus(String(api.amount_paid)).toNumber();
          sameNumber(due!, owed);
          content.lines.rows.forEach((row, index) => {
            const line = api.line_items[index]!;
            sameNumber(row[3]!, line.quantity);
            sameNumber(row[4]!, line.unit_price);
            sameNumber(row[5]!, line.amount);
            sameNumber(row[7]!, line.tax_amount);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('a rendered document', () => {
  it('is the same bytes each time it is rendered from the same record', async () => {
    const content = buildDocumentContent(
      recordData('JPY', [{ quantity: 3n, unitPrice: '1200', taxRate: '0.1' }], 'paid', 1),
      'en',
    );
    expect(Buffer.compare(await renderPdf(content), await renderPdf(content))).toBe(0);
  });
});

describe('a long invoice', () => {
  it('paginates 1,000 lines in under 2 s of CPU with the table header on every page and page x / y', async () => {
    const lines = Array.from({ length: 1000 }, (_, index) => ({
      quantity: BigInt(index * 37 + 1),
      unitPrice: '0.0125',
      taxRate: '0.06',
    }));
    const content = buildDocumentContent(recordData('CNY', lines, 'pending', 0), 'zh-CN');
    await renderPdf(buildDocumentContent(recordData('CNY', lines.slice(0, 1), 'pending', 0), 'zh-CN'));
    // CPU time, not wall time: the other test worker shares the cores, and the render is ours alone.
    const started = process.cpuUsage();
    const pdf = await renderPdf(content);
    const { user, system } = process.cpuUsage(started);
    expect((user + system) / 1000).toBeLessThan(2000);
    // The fonts were parsed once for the process, not once per document.
    expect(fontParses.count).toBe(2);
    if (!hasPdfToText) return;
    const { pages } = await pdfText(pdf);
    expect(pages).toBeGreaterThan(10);
    for (const page of [2, pages]) {
      const { text } = await pdfText(pdf, { first: page, last: page });
      expect(text).toMatch(/#\s+描述\s+资源类型\s+数量\s+单价\s+金额\s+税率\s+税额/);
      expect(text).toMatch(new RegExp(`第\\s*${page}\\s*/\\s*${pages}\\s*页`));
    }
    const { text: last } = await pdfText(pdf, { first: pages, last: pages });
    expect(last).toContain('合计');
  });
});
