import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock, TenantClocks } from '../core/clock.js';
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
  /** Real time: response timestamps, and work that belongs to no tenant. */
  clock: Clock;
  /** Each tenant's time (a test clock's, or real): what a request does for a tenant is dated by it. */
  tenantClocks: TenantClocks;
}
