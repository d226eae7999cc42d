import { createHash } from 'node:crypto';
import { ok, type Result } from '../../core/result.js';
import { buildDocumentContent, type DocumentContent } from './content.js';
import { renderHtml } from './html.js';
import { renderPdf } from './pdf.js';
import { readDocumentData, type DocumentRequest } from './read-document.js';

export type DocumentFormat = 'pdf' | 'html';

/** Bump when a layout changes, so every document's ETag changes with it. */
const layoutVersion = 1;

/**
 * The document's identity: a hash of everything it shows (the record, the parties, the figures as
 * formatted) and the layout version. Equal while the record is unchanged, so a client's copy is
 * checked without rendering, and a rendered PDF can be reused.
 */
const documentEtag = (content: DocumentContent, format: DocumentFormat): string => {
  const hash = createHash('sha256');
  hash.update(`${layoutVersion}/${format}/`);
  hash.update(
    JSON.stringify(content, (key, value: unknown) =>
      key === 'logo' && value !== null
        ? createHash('sha256')
            .update((value as NonNullable<DocumentContent['issuer']['logo']>).bytes)
            .digest('hex')
        : value,
    ),
  );
  return `"${format}-${hash.digest('base64url').slice(0, 32)}"`;
};

/** Rendered PDFs by ETag, least recently used first out, bounded by their bytes. */
class RenderedCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(etag: string): Buffer | undefined {
    const entry = this.entries.get(etag);
    if (entry !== undefined) {
      this.entries.delete(etag);
      this.entries.set(etag, entry);
    }
    return entry;
  }

  set(etag: string, body: Buffer): void {
    if (body.length > this.maxBytes / 4 || this.entries.has(etag)) return;
    this.entries.set(etag, body);
    this.bytes += body.length;
    for (const [oldest, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= old.length;
    }
  }
}

const renderedPdfs = new RenderedCache(64 * 1024 * 1024);
/** Renders under way: concurrent requests for one document wait for the same render. */
const rendering = new Map<string, Promise<Buffer>>();

const pdfFor = async (etag: string, content: DocumentContent): Promise<Buffer> => {
  const cached = renderedPdfs.get(etag);
  if (cached !== undefined) return cached;
  let pending = rendering.get(etag);
  if (pending === undefined) {
    pending = renderPdf(content)
      .then((body) => {
        renderedPdfs.set(etag, body);
        return body;
      })
      .finally(() => rendering.delete(etag));
    rendering.set(etag, pending);
  }
  return pending;
};

type RenderedDocument =
  { notModified: true; etag: string } | { notModified: false; etag: string; fileName: string; body: Buffer };

/** Whether an If-None-Match header names this ETag (a list, weak forms and `*` included). */
const matches = (ifNoneMatch: string | undefined, etag: string): boolean =>
  ifNoneMatch !== undefined &&
  ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });

/** A record's document in one format: 304 when the client's copy is current, else the bytes. */
export const renderRecordDocument = async (
  request: DocumentRequest & { format: DocumentFormat; ifNoneMatch: string | undefined },
): Promise<Result<RenderedDocument>> => {
  const read = await readDocumentData(request);
  if (!read.ok) return read;
  const content = buildDocumentContent(read.value.data, read.value.locale);
  const etag = documentEtag(content, request.format);
  if (matches(request.ifNoneMatch, etag)) return ok({ notModified: true, etag });
  const fileName = request.format === 'pdf' ? content.fileName : content.fileName.replace(/\.pdf$/, '.html');
  if (request.format === 'html') {
    return ok({ notModified: false, etag, fileName, body: Buffer.from(renderHtml(content), 'utf8') });
  }
  return ok({ notModified: false, etag, fileName, body: await pdfFor(etag, content) });
};
