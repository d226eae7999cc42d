/** The only source of "now" in domain code, so billing runs can be replayed and tests can travel in time. */
export interface Clock {
  now(): Date;
}

// The one permitted read of the wall clock; everything else receives a Clock.
// eslint-disable-next-line no-restricted-syntax
export const systemClock: Clock = { now: () => new Date() };

/** A clock that stays where it is put; tests move it explicitly. */
export class ManualClock implements Clock {
  private current: Date;

  constructor(start: Date | string) {
    this.current = new Date(start);
  }

  now(): Date {
    return new Date(this.current);
  }

  set(to: Date | string): void {
    this.current = new Date(to);
  }

  advance(milliseconds: number): void {
    this.current = new Date(this.current.getTime() + milliseconds);
  }
}

/** RFC 3339 in UTC with second precision, as every API timestamp is written. */
export const toRfc3339 = (instant: Date): string => instant.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A clock stopped at one instant: billing work done "as of" a period boundary is dated there. */
export const clockAt = (instant: Date): Clock => ({ now: () => new Date(instant) });

/**
 * Each tenant's time: real time, or the frozen time of the test clock the tenant lives on. Work a
 * request does for a tenant is dated by its clock; the envelope's timestamp, tokens and rate limits
 * stay on real time.
 */
export interface TenantClocks {
  /** The tenant's clock; real time for a tenant on no test clock (or none at all yet). */
  clockFor(tenantId: string): Promise<Clock>;
  /** Several tenants' clocks in one read (a cross-tenant batch); each id given has one. */
  clocksFor(tenantIds: readonly string[]): Promise<ReadonlyMap<string, Clock>>;
}
