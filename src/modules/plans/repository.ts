import type { Insertable, Selectable, Updateable } from 'kysely';
import type { PageRequest } from '../../core/pagination.js';
import type { Db, DbTransaction } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { PlansTable, PlanVersionResourcesTable, PlanVersionsTable } from '../../db/schema.js';
import type { ListPlansFilter } from './schemas.js';

export type PlanRow = Selectable<PlansTable>;
export type PlanVersionRow = Selectable<PlanVersionsTable>;
export type PlanResourceRow = Selectable<PlanVersionResourcesTable>;

/** A plan as the API shows it: the plan, one of its versions with that version's resources, and every version number. */
export interface PlanDetails {
  plan: PlanRow;
  version: PlanVersionRow;
  resources: PlanResourceRow[];
  versions: number[];
}

export const findPlan = (db: Db, planId: string): Promise<PlanRow | undefined> =>
  db.selectFrom('plans').selectAll().where('id', '=', planId).executeTakeFirst();

/** Locks the plan row for the rest of the transaction: version creation serialises on it. */
export const findPlanForUpdate = (trx: DbTransaction, planId: string): Promise<PlanRow | undefined> =>
  trx.selectFrom('plans').selectAll().where('id', '=', planId).forUpdate().executeTakeFirst();

/** Inserts unless the id is taken; returns undefined when it was. */
export const insertPlan = (db: Db, row: Insertable<PlansTable>): Promise<PlanRow | undefined> =>
  db
    .insertInto('plans')
    .values(row)
    .onConflict((conflict) => conflict.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();

export const updatePlan = (
  db: Db,
  planId: string,
  patch: Pick<Updateable<PlansTable>, 'name' | 'description' | 'status' | 'current_version' | 'updated_at'>,
): Promise<PlanRow | undefined> =>
  db.updateTable('plans').set(patch).where('id', '=', planId).returningAll().executeTakeFirst();

/** Writes one version and its resources; versions are insert-only, the database refuses any later change. */
export const insertPlanVersion = async (
  db: Db,
  version: Insertable<PlanVersionsTable>,
  resources: Omit<Insertable<PlanVersionResourcesTable>, 'plan_id' | 'version'>[],
): Promise<{ version: PlanVersionRow; resources: PlanResourceRow[] }> => {
  const written = await db.insertInto('plan_versions').values(version).returningAll().executeTakeFirstOrThrow();
  const writtenResources =
    resources.length === 0
      ? []
      : await db
          .insertInto('plan_version_resources')
          .values(resources.map((resource) => ({ ...resource, plan_id: written.plan_id, version: written.version })))
          .returningAll()
          .execute();
  return { version: written, resources: sortResources(writtenResources) };
};

export const findPlanVersion = (db: Db, planId: string, version: number): Promise<PlanVersionRow | undefined> =>
  db
    .selectFrom('plan_versions')
    .selectAll()
    .where('plan_id', '=', planId)
    .where('version', '=', version)
    .executeTakeFirst();

const sortResources = (rows: PlanResourceRow[]): PlanResourceRow[] =>
  [...rows].sort((a, b) => (a.resource_type < b.resource_type ? -1 : a.resource_type > b.resource_type ? 1 : 0));

/** Resources of several (plan, version) pairs at once, keyed `plan_id@version`, each list by resource type. */
const findResourcesOf = async (
  db: Db,
  versions: Pick<PlanVersionRow, 'plan_id' | 'version'>[],
): Promise<Map<string, PlanResourceRow[]>> => {
  const byVersion = new Map<string, PlanResourceRow[]>();
  if (versions.length === 0) return byVersion;
  const rows = await db
    .selectFrom('plan_version_resources')
    .selectAll()
    .where((eb) => eb.or(versions.map((v) => eb.and([eb('plan_id', '=', v.plan_id), eb('version', '=', v.version)]))))
    .orderBy('plan_id')
    .orderBy('version')
    .orderBy('resource_type')
    .execute();
  for (const row of rows) {
    const key = versionKey(row);
    byVersion.set(key, [...(byVersion.get(key) ?? []), row]);
  }
  return byVersion;
};

/** Version numbers of several plans at once, oldest first. */
const findVersionNumbersOf = async (db: Db, planIds: string[]): Promise<Map<string, number[]>> => {
  const byPlan = new Map<string, number[]>();
  if (planIds.length === 0) return byPlan;
  const rows = await db
    .selectFrom('plan_versions')
    .select(['plan_id', 'version'])
    .where('plan_id', 'in', planIds)
    .orderBy('plan_id')
    .orderBy('version')
    .execute();
  for (const row of rows) byPlan.set(row.plan_id, [...(byPlan.get(row.plan_id) ?? []), row.version]);
  return byPlan;
};

const versionKey = (v: Pick<PlanVersionRow, 'plan_id' | 'version'>): string => `${v.plan_id}@${v.version}`;

/** Adds resources and version numbers to (plan, version) pairs, in three queries whatever their number. */
const withDetails = async (db: Db, pairs: { plan: PlanRow; version: PlanVersionRow }[]): Promise<PlanDetails[]> => {
  const [resources, versions] = await Promise.all([
    findResourcesOf(
      db,
      pairs.map((pair) => pair.version),
    ),
    findVersionNumbersOf(
      db,
      pairs.map((pair) => pair.plan.id),
    ),
  ]);
  return pairs.map(({ plan, version }) => ({
    plan,
    version,
    resources: resources.get(versionKey(version)) ?? [],
    versions: versions.get(plan.id) ?? [],
  }));
};

/** The plan with the given version (its current one when absent); `version` is undefined when the plan has no such version. */
export const findPlanDetails = async (
  db: Db,
  planId: string,
  versionNumber?: number,
): Promise<{ plan: PlanRow | undefined; details: PlanDetails | undefined }> => {
  const plan = await findPlan(db, planId);
  if (plan === undefined) return { plan, details: undefined };
  const version = await findPlanVersion(db, planId, versionNumber ?? plan.current_version);
  if (version === undefined) return { plan, details: undefined };
  const [details] = await withDetails(db, [{ plan, version }]);
  return { plan, details };
};

/** Platform-wide listing with each plan's current version; newest first, ties by id. */
export const listPlans = async (
  db: Db,
  filter: ListPlansFilter & PageRequest,
): Promise<{ rows: PlanDetails[]; total: number }> => {
  let query = db.selectFrom('plans');
  if (filter.status !== undefined) query = query.where('plans.status', '=', filter.status);
  const { rows: plans, total } = await fetchPage(
    query,
    (query) => query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
    filter,
  );
  const currentVersions =
    plans.length === 0
      ? []
      : await db
          .selectFrom('plan_versions')
          .selectAll()
          .where((eb) =>
            eb.or(plans.map((plan) => eb.and([eb('plan_id', '=', plan.id), eb('version', '=', plan.current_version)]))),
          )
          .execute();
  const versionByKey = new Map(currentVersions.map((version) => [versionKey(version), version]));
  const pairs = plans.map((plan) => {
    const version = versionByKey.get(versionKey({ plan_id: plan.id, version: plan.current_version }));
    // plans.current_version always names a written version: both are written in one transaction.
    if (version === undefined) throw new Error(`plan ${plan.id} has no version ${plan.current_version}`);
    return { plan, version };
  });
  return { rows: await withDetails(db, pairs), total };
};

/** Included units and overage prices of one plan version, by resource type. */
export const findPlanVersionResources = (db: Db, planId: string, version: number): Promise<PlanResourceRow[]> =>
  db
    .selectFrom('plan_version_resources')
    .selectAll()
    .where('plan_id', '=', planId)
    .where('version', '=', version)
    .orderBy('resource_type')
    .execute();
