import pdfmake, { type Content, type TableCell } from 'pdfmake';
import type { Margins, TDocumentDefinitions } from 'pdfmake/interfaces.js';
import type { DocumentContent, DocumentTable } from './content.js';
import { configurePdfmake, documentFont } from './pdf-fonts.js';

const ink = '#1f2328';
const muted = '#57606a';
const rule = '#d0d7de';
const band = '#f6f8fa';

const tableLayout = {
  hLineWidth: (row: number) => (row === 1 ? 0.8 : 0.4),
  vLineWidth: () => 0,
  hLineColor: () => rule,
  paddingLeft: () => 4,
  paddingRight: () => 4,
  paddingTop: () => 2,
  paddingBottom: () => 2,
  fillColor: (row: number) => (row === 0 ? band : null),
};

/** A table whose header row repeats on every page it runs onto. */
const table = (data: DocumentTable, widths: (string | number)[], fontSize = 8): Content => ({
  table: {
    headerRows: 1,
    dontBreakRows: true,
    widths,
    body: [
      data.headers.map((header, column): TableCell => ({
        text: header,
        bold: true,
        color: muted,
        alignment: data.numeric.includes(column) ? 'right' : 'left',
      })),
      ...data.rows.map((row) =>
        row.map((cell, column): TableCell => ({
          text: cell,
          alignment: data.numeric.includes(column) ? 'right' : 'left',
        })),
      ),
    ],
  },
  layout: tableLayout,
  fontSize,
  lineHeight: 1,
  margin: [0, 4, 0, 10],
});

const heading = (text: string): Content => ({ text, bold: true, fontSize: 10, margin: [0, 6, 0, 2] });

const partyBlock = (label: string, party: { name: string; details: string[] }): Content => ({
  stack: [
    { text: label, color: muted, fontSize: 8 },
    { text: party.name, bold: true, margin: [0, 2, 0, 2] },
    ...party.details.map((line) => ({ text: line, color: muted, fontSize: 8 })),
  ],
});

const definition = (content: DocumentContent): TDocumentDefinitions => {
  const { labels } = content;
  const logo = content.issuer.logo;
  return {
    info: {
      title: content.fileName.replace(/\.pdf$/, ''),
      author: content.issuer.name,
      subject: content.title,
      creator: 'billing-service',
      producer: 'billing-service',
      // Fixed by the record, so the bytes stay the same while the record does.
      creationDate: content.createdAt,
    },
    language: content.locale,
    pageSize: 'A4',
    pageMargins: [40, 40, 40, 48],
    defaultStyle: { font: documentFont, fontSize: 9, color: ink, lineHeight: 1.1 },
    images: logo === null ? {} : { logo: `data:${logo.type};base64,${logo.bytes.toString('base64')}` },
    footer: (page: number, pages: number): Content => ({
      columns: [
        { text: content.fileName.replace(/\.pdf$/, ''), color: muted, fontSize: 8 },
        { text: labels.page(page, pages), alignment: 'right', color: muted, fontSize: 8 },
      ],
      margin: [40, 16, 40, 0],
    }),
    watermark: content.draft ? { text: labels.draft, color: '#cf222e', opacity: 0.08, bold: true } : undefined,
    content: [
      {
        columns: [
          // The logo beside the issuer, not above it: a 20-line invoice stays on one page.
          ...(logo === null
            ? []
            : [{ width: 'auto' as const, stack: [{ image: 'logo', fit: [100, 40] as [number, number] }] }]),
          partyBlock(labels.issuer, content.issuer),
          {
            stack: [
              { text: content.title, fontSize: 20, bold: true },
              content.draft
                ? { text: labels.draft, fontSize: 12, bold: true, color: '#cf222e' }
                : { text: content.facts[0]![1], color: muted, margin: [0, 2, 0, 0] as Margins },
            ],
            alignment: 'right',
            width: 'auto',
          },
        ],
        columnGap: 24,
        margin: [0, 0, 0, 14],
      },
      {
        columns: [
          partyBlock(labels.billTo, content.customer),
          {
            table: {
              widths: ['auto', '*'],
              body: content.facts.map(([label, value]) => [{ text: label, color: muted }, { text: value }]),
            },
            layout: {
              ...tableLayout,
              hLineWidth: () => 0,
              fillColor: () => null,
              paddingTop: () => 1,
              paddingBottom: () => 1,
            },
            lineHeight: 1,
          },
        ],
        columnGap: 24,
        margin: [0, 0, 0, 10],
      },
      { text: content.description, margin: [0, 0, 0, 4] },
      heading(labels.lines),
      table(content.lines, ['auto', '*', 'auto', 'auto', 'auto', 'auto', 'auto', 'auto']),
      ...(content.usage === null
        ? []
        : [heading(labels.usage), table(content.usage, ['*', 'auto', 'auto', 'auto', 'auto', 'auto'])]),
      ...(content.payg === null
        ? []
        : [
            heading(labels.payg),
            table(content.payg, ['auto', '*', '*', 'auto', 'auto', 'auto', 'auto', 'auto', 'auto', 'auto'], 7),
          ]),
      {
        columns: [
          { text: '', width: '*' },
          {
            width: 'auto',
            table: {
              widths: ['auto', 'auto'],
              body: content.totals.map((total) => [
                { text: total.label, bold: total.strong, color: total.strong ? ink : muted },
                { text: total.value, bold: total.strong, alignment: 'right' },
              ]),
            },
            layout: {
              ...tableLayout,
              fillColor: () => null,
              hLineWidth: (row: number) => (row === 2 || row === 4 ? 0.8 : 0),
            },
          },
        ],
        lineHeight: 1,
        margin: [0, 0, 0, 12],
        unbreakable: true,
      },
      { text: content.note, color: muted, fontSize: 7.5 },
    ],
  };
};

/**
 * The document as a PDF, rendered in process. A logo pdfkit cannot draw (a PNG its decoder chokes
 * on passes the upload's checks) leaves the document without it rather than without a document.
 */
export const renderPdf = async (content: DocumentContent): Promise<Buffer> => {
  configurePdfmake();
  try {
    return await pdfmake.createPdf(definition(content)).getBuffer();
  } catch (error) {
    if (content.issuer.logo === null) throw error;
    return renderPdf({ ...content, issuer: { ...content.issuer, logo: null } });
  }
};
