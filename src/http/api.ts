import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.js';
import type { DatabaseHandle } from '../db/database.js';

/** The app as routes see it: Fastify with TypeBox schemas as types. */
export type Api = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What every module's routes are given; a module that needs more says so in its own type. */
export interface RouteDependencies {
  database: DatabaseHandle;
  clock: Clock;
}
