import type { Db } from '../../db/database.js';
import {
  findPlan,
  findPlanVersion,
  findPlanVersionResources,
  type PlanResourceRow,
  type PlanRow,
  type PlanVersionRow,
} from './repository.js';

/** How billing reads the plans it bills by: straight from the database, or through a run's cache. */
export interface PlanLookup {
  plan(db: Db, planId: string): Promise<PlanRow | undefined>;
  version(db: Db, planId: string, version: number): Promise<PlanVersionRow | undefined>;
  resources(db: Db, planId: string, version: number): Promise<PlanResourceRow[]>;
}

export const directPlanLookup: PlanLookup = {
  plan: findPlan,
  version: findPlanVersion,
  resources: findPlanVersionResources,
};

export interface CachedPlanLookup extends PlanLookup {
  /** Forgets the plans' own rows (not their versions): call it at the start of every transaction. */
  forgetPlans(): void;
}

/**
 * A billing run's plan reads, each done once. Plan versions and their resources are insert-only
 * (the database refuses any change), so a version read once stays right for the whole run. A
 * plan's own row (its name, on invoices) can change, so it is kept for one transaction only.
 */
export const cachedPlanLookup = (): CachedPlanLookup => {
  let plans = new Map<string, PlanRow | undefined>();
  const versions = new Map<string, PlanVersionRow | undefined>();
  const resources = new Map<string, PlanResourceRow[]>();
  /** The cached value, or `read` once; a missing row is not cached (the next read tries again). */
  const memo = async <T>(cache: Map<string, T>, key: string, read: () => Promise<T>): Promise<T> => {
    if (cache.has(key)) return cache.get(key) as T;
    const value = await read();
    if (value !== undefined) cache.set(key, value);
    return value;
  };
  return {
    forgetPlans: () => {
      plans = new Map();
    },
    plan: (db, planId) => memo(plans, planId, () => findPlan(db, planId)),
    version: (db, planId, version) =>
      memo(versions, `${planId}@${version}`, () => findPlanVersion(db, planId, version)),
    // Written in the same transaction as their version: a version that exists has all of them.
    resources: (db, planId, version) =>
      memo(resources, `${planId}@${version}`, () => findPlanVersionResources(db, planId, version)),
  };
};
