/**
 * Writes the OpenAPI document the server serves at /openapi.json, without a server or a database
 * server: the app is built on an empty in-memory database and asked for its document. CI lints it
 * (`npm run openapi:lint`).
 *
 *   tsx scripts/openapi.ts [file]   (default: stdout)
 */
import { writeFile } from 'node:fs/promises';
import { systemClock } from '../src/core/clock.js';
import { defaultRateLimits } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { buildApp } from '../src/app.js';
import { createTokenVerifier } from '../src/modules/auth/tokens.js';
import { packageVersion } from '../src/cli/runtime.js';

const database = await openDatabase({ kind: 'memory' });
const app = await buildApp({
  database,
  clock: systemClock,
  // Never asked to verify anything: the document does not depend on the key.
  tokens: createTokenVerifier({ secret: 'openapi-document-only-never-verifies-a-token', clock: systemClock }),
  logLevel: 'warn',
  version: packageVersion(),
  rateLimits: defaultRateLimits,
});
await app.ready();
const document = `${JSON.stringify(app.swagger(), null, 2)}\n`;
await app.close();
await database.close();

const target = process.argv[2];
if (target === undefined) process.stdout.write(document);
else await writeFile(target, document);
