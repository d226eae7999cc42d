import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pdfmake from 'pdfmake';

/*
 * The document font is Noto Sans SC (SIL Open Font License 1.1), installed by npm with
 * @expo-google-fonts/noto-sans-sc: a fresh machine renders Chinese with no system font. Its
 * static TrueType weights subset cleanly, and PDF readers extract the text back as Chinese.
 */
const require = createRequire(import.meta.url);
const fontFile = (weight: '400Regular' | '700Bold'): string =>
  require.resolve(`@expo-google-fonts/noto-sans-sc/${weight}/NotoSansSC_${weight}.ttf`);

export const documentFont = 'NotoSansSC';

interface FontkitFont {
  readonly postscriptName: string;
}
interface Fontkit {
  create(data: Uint8Array): FontkitFont;
}
/** The fontkit that pdfkit itself uses, so the parsed fonts are of the classes it expects. */
const fontkit = createRequire(require.resolve('pdfkit'))('fontkit') as Fontkit;

type FontStyle = 'normal' | 'bold';
const files: Record<FontStyle, string> = { normal: fontFile('400Regular'), bold: fontFile('700Bold') };

/** Parsed once per process: parsing a 10 MB CJK font took 17 ms of every document's ~30 ms. */
let parsed: Record<FontStyle, FontkitFont> | undefined;
/** How many times the fonts were parsed (tests check it stays at one per style). */
export const fontParses = { count: 0 };

const parsedFonts = (): Record<FontStyle, FontkitFont> => {
  if (parsed === undefined) {
    parsed = {
      normal: fontkit.create(readFileSync(files.normal)),
      bold: fontkit.create(readFileSync(files.bold)),
    };
    fontParses.count += 2;
  }
  return parsed;
};

/**
 * The parsed font with a glyph cache of the document's own: fontkit remembers, with each glyph,
 * the character that first reached it, and pdfkit maps the glyph back to that character in the
 * PDF's text. Shared, a glyph two characters share (⼀ and 一) would read back as whichever an
 * earlier document used; with its own cache, a document's text and bytes depend on it alone.
 * The decoded tables stay shared.
 */
const ownGlyphs = (font: FontkitFont): FontkitFont =>
  Object.create(font, { _glyphs: { value: {}, writable: true, configurable: true } }) as FontkitFont;

/** The pdfkit document pdfmake renders into, as far as sharing a parsed font needs it. */
interface RenderDocument {
  fontCache: Record<string, Partial<Record<string, object>>>;
  _fontFamilies: Record<string, object>;
  _fontCount: number;
  getFontType(bold: boolean, italics: boolean): string;
}
type ProvideFont = (this: RenderDocument, family: string, bold: boolean, italics: boolean) => object;

let configured = false;

/**
 * Sets pdfmake up once: our font only, no URL or file access from a document, and each document
 * embeds its own subset of the fonts parsed once (pdfkit would parse them again per document).
 * The embedded-font class is pdfkit's own, taken from the first font pdfkit opens itself.
 */
export const configurePdfmake = (): void => {
  if (configured) return;
  configured = true;
  pdfmake.setFonts({ [documentFont]: { normal: files.normal, bold: files.bold } });
  pdfmake.setUrlAccessPolicy(() => false);
  pdfmake.setLocalAccessPolicy((path) => path === files.normal || path === files.bold);
  const { default: Document } = require('pdfmake/js/PDFDocument.js') as { default: { prototype: object } };
  const prototype = Document.prototype as { provideFont: ProvideFont };
  const openOwn = prototype.provideFont;
  let EmbeddedFont: (new (document: RenderDocument, font: FontkitFont, id: string) => object) | undefined;
  prototype.provideFont = function provideFont(family, bold, italics) {
    const style = this.getFontType(bold, italics);
    if (family !== documentFont || (style !== 'normal' && style !== 'bold'))
      return openOwn.call(this, family, bold, italics);
    const cached = this.fontCache[family]?.[style];
    if (cached !== undefined) return cached;
    if (EmbeddedFont === undefined) {
      const opened = openOwn.call(this, family, bold, italics);
      EmbeddedFont = opened.constructor as unknown as typeof EmbeddedFont;
      return opened;
    }
    const font = new EmbeddedFont(this, ownGlyphs(parsedFonts()[style]), `F${++this._fontCount}`);
    // pdfkit finalises (embeds) the fonts it finds here when the document ends.
    this._fontFamilies[`${family}-${style}`] = font;
    (this.fontCache[family] ??= {})[style] = font;
    return font;
  };
};
