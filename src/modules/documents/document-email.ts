import type { Db } from '../../db/database.js';
import type { ComposeDocumentEmail } from '../notifications/transports.js';
import type { DocumentIssuer } from './content.js';
import { buildDocumentContent } from './content.js';
import { renderHtml } from './html.js';
import { renderPdf } from './pdf.js';
import { readDocumentData } from './read-document.js';

/**
 * The message that carries a finalised record to the tenant's billing email: the printable page
 * as its body, a plain-text summary for mail readers without HTML, and the PDF attached. Composed
 * when the outbox delivers it, from the record as it then stands, in the tenant's language.
 */
export const composeDocumentEmail =
  (db: Db, issuer: () => Promise<DocumentIssuer>): ComposeDocumentEmail =>
  async (tenantId, recordId) => {
    const read = await readDocumentData({ db, scope: { tenantId }, recordId, lang: undefined, issuer });
    if (!read.ok) throw new Error(`cannot compose the document of ${recordId}: ${read.error.message}`);
    const content = buildDocumentContent(read.value.data, read.value.locale);
    const number = content.facts[0]![1];
    const text = [
      `${content.title} ${number}`,
      `${content.issuer.name} → ${content.customer.name}`,
      ...content.facts.slice(1).map(([label, value]) => `${label}: ${value}`),
      '',
      ...content.totals.map((total) => `${total.label}: ${total.value}`),
      '',
      content.note,
    ].join('\n');
    return {
      subject: `${content.title} ${number} · ${content.issuer.name}`,
      html: renderHtml(content),
      text,
      attachment: { filename: content.fileName, content: await renderPdf(content), contentType: 'application/pdf' },
    };
  };
