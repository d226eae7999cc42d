import type { FastifyInstance } from 'fastify';
import { AppError } from '../core/errors.js';

/**
 * How deeply a JSON body may nest arrays and objects. Validation, fingerprinting and storage walk
 * a body recursively; a body nested 20,000 levels would overflow the stack, so it is refused as
 * text, before anything has parsed or walked it.
 */
export const maxJsonDepth = 32;

const quote = 0x22;
const backslash = 0x5c;
const [openBracket, closeBracket, openBrace, closeBrace] = [0x5b, 0x5d, 0x7b, 0x7d];

/** Whether JSON text nests deeper than `limit`: one pass over the text, brackets inside strings skipped. */
export const nestsDeeperThan = (text: string, limit: number): boolean => {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === backslash) index += 1;
      else if (char === quote) inString = false;
    } else if (char === quote) {
      inString = true;
    } else if (char === openBracket || char === openBrace) {
      depth += 1;
      if (depth > limit) return true;
    } else if (char === closeBracket || char === closeBrace) {
      depth -= 1;
    }
  }
  return false;
};

/**
 * Replaces Fastify's JSON parser with one that refuses too deep a body first, then parses with
 * Fastify's own (secure-json-parse: `__proto__` and `constructor.prototype` keys as configured).
 */
export const installJsonBodyParser = (app: FastifyInstance): void => {
  const parseJson = app.getDefaultJsonParser(
    app.initialConfig.onProtoPoisoning ?? 'error',
    app.initialConfig.onConstructorPoisoning ?? 'error',
  );
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (nestsDeeperThan(body as string, maxJsonDepth)) {
      const reason = `nests arrays and objects deeper than ${maxJsonDepth} levels`;
      done(new AppError('validation_error', `the request body ${reason}`, [{ in: 'body', reason }]), undefined);
      return;
    }
    return parseJson(request, body as string, done);
  });
};
