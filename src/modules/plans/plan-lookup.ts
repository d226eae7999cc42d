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
  let plans = new Map<string, PlanRow>();
  const versions = new Map<string, PlanVersionRow>();
  const resources = new Map<string, PlanResourceRow[]>();
  return {
    forgetPlans: () => {
      plans = new Map();
    },
    plan: async (db, planId) => {
      const known = plans.get(planId);
      if (known !== undefined) return known;
      const row = await findPlan(db, planId);
      if (row !== undefined) plans.set(planId, row);
      return row;
    },
    version: async (db, planId, version) => {
      const key = `${planId}@${version}`;
      const known = versions.get(key);
      if (known !== undefined) return known;
      const row = await findPlanVersion(db, planId, version);
      if (row !== undefined) versions.set(key, row);
      return row;
    },
    resources: async (db, planId, version) => {
      const key = `${planId}@${version}`;
      const known = resources.get(key);
      if (known !== undefined) return known;
      // Written in the same transaction as their version: a version that exists has all of them.
      const rows = await findPlanVersionResources(db, planId, version);
      resources.set(key, rows);
      return rows;
    },
  };
};
