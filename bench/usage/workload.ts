import type { ResourceType } from '../../src/core/resources.js';
import { lateEventWindowMs } from '../../src/modules/usage/usage-event.js';
import { between, logUniform, oneOf, weightedPicker, type Random } from '../lib/random.js';
import { appsPerTenant, clock, tenantCount } from './config.js';

/**
 * The events sent, seeded: tenants Zipf-skewed, apps skewed within a tenant, a weighted mix of the
 * 8 resource types, timestamps over the 3-day late-event window in 8 time zones.
 */

export interface BenchTenant {
  id: string;
  timeZone: string;
  appIds: string[];
}

// Mostly the default zone, some on either side of UTC so tenants' days begin at different instants.
const timeZones = [
  'Asia/Shanghai',
  'Asia/Shanghai',
  'Asia/Shanghai',
  'UTC',
  'America/New_York',
  'Europe/Berlin',
  'Asia/Tokyo',
  'America/Los_Angeles',
];
export const tenants: BenchTenant[] = Array.from({ length: tenantCount }, (_, t) => {
  const id = `tnt_bench_${String(t).padStart(3, '0')}`;
  return {
    id,
    timeZone: timeZones[t % timeZones.length]!,
    appIds: Array.from({ length: appsPerTenant }, (_, a) => `app_bench_${String(t).padStart(3, '0')}_${a}`),
  };
});
export const timeZoneOf = new Map(tenants.map((tenant) => [tenant.id, tenant.timeZone]));

// A few tenants send most of the traffic (Zipf), and a tenant's main app most of its own.
const pickTenant = weightedPicker(tenants.map((tenant, rank) => ({ item: tenant, weight: 1 / (rank + 1) })));
const pickAppIndex = weightedPicker([55, 25, 12, 8].map((weight, index) => ({ item: index, weight })));

/** An event as a producer sends it: the wire format of POST /billing/usage/events. */
export interface WireEvent {
  event_id: string;
  tenant_id: string;
  app_id: string;
  resource_type: ResourceType;
  quantity: number;
  timestamp: string;
  properties?: Record<string, unknown>;
}

type Measurement = Pick<WireEvent, 'quantity' | 'properties'>;

const endpoints = ['/v1/orders', '/v1/users', '/v1/search', '/v1/files', '/v1/reports', '/v1/webhooks'];
const regions = ['cn-east-1', 'cn-north-2', 'ap-southeast-1'];

const pickResource = weightedPicker<{ type: ResourceType; measure: (random: Random) => Measurement }>([
  {
    weight: 40,
    item: {
      type: 'api_requests',
      measure: (random) => ({
        quantity: random() < 0.8 ? 1 : between(random, 2, 50),
        properties: {
          endpoint: oneOf(random, endpoints),
          method: random() < 0.7 ? 'GET' : 'POST',
          status: random() < 0.97 ? 200 : 500,
        },
      }),
    },
  },
  {
    weight: 20,
    item: {
      type: 'api_calls',
      measure: (random) => ({ quantity: between(random, 1, 10), properties: { endpoint: oneOf(random, endpoints) } }),
    },
  },
  {
    weight: 15,
    item: {
      type: 'bandwidth_used',
      measure: (random) => ({
        quantity: logUniform(random, 1_000, 5_000_000),
        properties: { region: oneOf(random, regions), direction: random() < 0.8 ? 'egress' : 'ingress' },
      }),
    },
  },
  {
    weight: 8,
    item: {
      type: 'login_attempts',
      measure: (random) => ({ quantity: 1, properties: { method: random() < 0.6 ? 'password' : 'sso' } }),
    },
  },
  { weight: 3, item: { type: 'failed_logins', measure: () => ({ quantity: 1 }) } },
  {
    weight: 4,
    item: { type: 'mfa_verifications', measure: () => ({ quantity: 1, properties: { factor: 'totp' } }) },
  },
  {
    weight: 5,
    item: {
      type: 'storage_used',
      measure: (random) => ({
        quantity: logUniform(random, 1_000_000, 10_000_000_000),
        properties: { region: oneOf(random, regions) },
      }),
    },
  },
  { weight: 5, item: { type: 'user_count', measure: (random) => ({ quantity: between(random, 1, 50_000) }) } },
]);

const hourMs = 60 * 60 * 1000;

/** How long ago an event happened: mostly today, a tail reaching back almost to the window's edge. */
const ageMs = (random: Random): number => {
  const roll = random();
  if (roll < 0.7) return random() * 24 * hourMs;
  if (roll < 0.9) return (24 + random() * 24) * hourMs;
  return 48 * hourMs + random() * (lateEventWindowMs - 48 * hourMs - 10 * 60 * 1000);
};

const hex32 = (random: Random): string =>
  Math.floor(random() * 0x100000000)
    .toString(16)
    .padStart(8, '0');

export const generateEvents = (random: Random, count: number, idPrefix: string): WireEvent[] => {
  const now = clock.now().getTime();
  return Array.from({ length: count }, (_, n) => {
    const tenant = pickTenant(random);
    const resource = pickResource(random);
    const { quantity, properties } = resource.measure(random);
    return {
      // Random first (ids land all over the primary key, as UUIDs do), the sequence last keeps them unique.
      event_id: `evt_${idPrefix}${hex32(random)}${hex32(random)}_${n.toString(36)}`,
      tenant_id: tenant.id,
      app_id: tenant.appIds[pickAppIndex(random)]!,
      resource_type: resource.type,
      quantity,
      timestamp: new Date(now - Math.floor(ageMs(random))).toISOString(),
      ...(properties === undefined ? {} : { properties }),
    };
  });
};
