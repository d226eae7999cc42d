import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Whether poppler's pdftotext is installed (Debian's poppler-utils; `.ci/run` installs it). Where it
 * is not, the text checks cannot run; CI must have it, so there its absence fails instead.
 */
export const hasPdfToText = await run('pdftotext', ['-v']).then(
  () => true,
  () => {
    if (process.env.CI === 'true') throw new Error('pdftotext is missing: install poppler-utils');
    return false;
  },
);

/** A PDF's text as a reader extracts it (layout kept), of some pages or all; and its page count. */
export const pdfText = async (
  pdf: Buffer,
  pages: { first?: number; last?: number } = {},
): Promise<{ text: string; pages: number }> => {
  const dir = await mkdtemp(join(tmpdir(), 'pdf-text-'));
  try {
    const file = join(dir, 'document.pdf');
    await writeFile(file, pdf);
    const range = [
      ...(pages.first === undefined ? [] : ['-f', String(pages.first)]),
      ...(pages.last === undefined ? [] : ['-l', String(pages.last)]),
    ];
    const [{ stdout: text }, { stdout: info }] = await Promise.all([
      run('pdftotext', ['-layout', '-enc', 'UTF-8', ...range, file, '-'], { maxBuffer: 64 * 1024 * 1024 }),
      run('pdfinfo', [file]),
    ]);
    return { text: text.replace(/\u00a0/g, ' '), pages: Number(/^Pages:\s+(\d+)/m.exec(info)?.[1] ?? 0) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};
