/**
 * Writes the OpenAPI document the server serves at /openapi.json (see openapi-document.ts). CI
 * lints it (`npm run openapi:lint`).
 *
 *   tsx scripts/openapi.ts [file]   (default: stdout)
 */
import { writeFile } from 'node:fs/promises';
import { buildOpenApiDocument } from './openapi-document.js';

const document = await buildOpenApiDocument();
const target = process.argv[2];
if (target === undefined) process.stdout.write(document);
else await writeFile(target, document);
