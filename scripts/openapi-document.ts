/**
 * The OpenAPI document the server serves at /openapi.json, built without a server or a database
 * server: the app is built on an empty in-memory database and asked for its document. Used by
 * scripts/openapi.ts (the lint) and scripts/generate-client.ts (the typed client).
 */
import { systemClock } from '../src/core/clock.js';
import { defaultRateLimits } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { buildApp } from '../src/app.js';
import { createTokenVerifier } from '../src/modules/auth/tokens.js';
import { packageVersion } from '../src/cli/runtime.js';

/** The document as the server serves it: JSON text, two-space indented, ending in a newline. */
export const buildOpenApiDocument = async (): Promise<string> => {
  const database = await openDatabase({ kind: 'memory' });
  try {
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
    return document;
  } finally {
    await database.close();
  }
};
