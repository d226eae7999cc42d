import type { DocumentContent, DocumentTable } from './content.js';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (text: string): string => text.replace(/[&<>"']/g, (char) => escapes[char]!);

/** A cell, classed by its column (`c3`) so a narrow screen can drop the columns it can spare. */
const cell = (tag: 'th' | 'td', text: string, column: number, numeric: boolean): string =>
  `<${tag} class="c${column}${numeric ? ' num' : ''}">${escape(text)}</${tag}>`;

/** A table whose header repeats on every printed page (thead is a table-header-group). */
const table = (data: DocumentTable, className: string): string =>
  `<table class="${className}"><thead><tr>${data.headers
    .map((header, column) => cell('th', header, column, data.numeric.includes(column)))
    .join('')}</tr></thead><tbody>${data.rows
    .map(
      (row) =>
        `<tr>${row.map((text, column) => cell('td', text, column, data.numeric.includes(column))).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;

const party = (label: string, block: { name: string; details: string[] }): string =>
  `<div class="party"><div class="label">${escape(label)}</div><div class="name">${escape(block.name)}</div>${block.details
    .map((line) => `<div class="detail">${escape(line)}</div>`)
    .join('')}</div>`;

/** The reader's own Chinese font (every desktop has one); the PDF carries its own. */
const style = `
*{box-sizing:border-box}
body{margin:0;background:#eef1f4;color:#1f2328;font:13px/1.45 "Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Noto Sans SC","WenQuanYi Micro Hei",sans-serif}
.sheet{max-width:210mm;margin:24px auto;background:#fff;padding:40px 44px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
header{display:flex;justify-content:space-between;align-items:flex-start;gap:16px;margin-bottom:24px}
header img{max-width:160px;max-height:56px}
h1{margin:0;font-size:26px;text-align:right}
.number{color:#57606a;text-align:right}
.draft{display:inline-block;margin-left:8px;padding:1px 8px;border:2px solid #cf222e;color:#cf222e;font-size:14px;vertical-align:middle;border-radius:4px}
.parties{display:flex;flex-wrap:wrap;gap:16px 32px;margin-bottom:16px}
.party{flex:1 1 240px;min-width:0;overflow-wrap:anywhere}
.label{color:#57606a;font-size:11px}
.name{font-weight:700;margin:2px 0}
.detail{color:#57606a;font-size:12px;white-space:pre-line}
dl.facts{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:4px 12px;margin:0 0 16px}
dl.facts dt{color:#57606a}dl.facts dd{margin:0;overflow-wrap:anywhere}
h2{font-size:14px;margin:20px 0 6px}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:collapse;font-size:12px}
th{background:#f6f8fa;color:#57606a;text-align:left;font-weight:600}
th,td{padding:5px 6px;border-bottom:1px solid #d0d7de;vertical-align:top}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.totals{width:auto;margin:16px 0 20px auto}
table.totals td{border:0;padding:3px 6px}
table.totals tr.strong td{font-weight:700;border-top:1px solid #8c959f}
.note{color:#57606a;font-size:11px}
@media (max-width:640px){.sheet{margin:0;padding:20px 16px;box-shadow:none}dl.facts{grid-template-columns:max-content 1fr}h1{font-size:22px}table{font-size:11px}th,td{padding:4px 3px}table.lines .c0,table.lines .c2,table.lines .c6{display:none}}
@media print{body{background:#fff}.sheet{margin:0;max-width:none;padding:0;box-shadow:none}thead{display:table-header-group}tr{break-inside:avoid}.scroll{overflow:visible}}
@page{size:A4;margin:16mm 14mm}
`;

/** The document as a printable page: no script, its style inline, the logo as a data URL. */
export const renderHtml = (content: DocumentContent): string => {
  const { labels } = content;
  const logo = content.issuer.logo;
  const title = content.facts[0]![1];
  const facts = content.facts.map(([label, value]) => `<dt>${escape(label)}</dt><dd>${escape(value)}</dd>`).join('');
  const totals = content.totals
    .map(
      (total) =>
        `<tr${total.strong ? ' class="strong"' : ''}><td>${escape(total.label)}</td><td class="num">${escape(total.value)}</td></tr>`,
    )
    .join('');
  const section = (heading: string, data: DocumentTable | null, className: string) =>
    data === null ? '' : `<h2>${escape(heading)}</h2><div class="scroll">${table(data, className)}</div>`;
  return `<!doctype html>
<html lang="${content.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(`${content.title} ${title}`)}</title>
<style>${style}</style>
</head>
<body>
<main class="sheet">
<header>
<div>${logo === null ? '' : `<img alt="${escape(content.issuer.name)}" src="data:${logo.type};base64,${logo.bytes.toString('base64')}">`}</div>
<div><h1>${escape(content.title)}${content.draft ? `<span class="draft">${escape(labels.draft)}</span>` : ''}</h1><div class="number">${escape(title)}</div></div>
</header>
<section class="parties">${party(labels.issuer, content.issuer)}${party(labels.billTo, content.customer)}</section>
<dl class="facts">${facts}</dl>
<p>${escape(content.description)}</p>
${section(labels.lines, content.lines, 'lines')}
${section(labels.usage, content.usage, 'usage')}
${section(labels.payg, content.payg, 'payg')}
<table class="totals"><tbody>${totals}</tbody></table>
<p class="note">${escape(content.note)}</p>
</main>
</body>
</html>
`;
};
