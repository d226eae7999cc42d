import type { Selectable } from 'kysely';
import type { Clock } from '../../core/clock.js';
import { toRfc3339 } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import type { PageRequest } from '../../core/pagination.js';
import { claimUsageKey } from '../metrics/metric-rules.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { fetchPage } from '../../db/paginate.js';
import type { PaygProductsTable } from '../../db/schema.js';
import type { CreateProductInput, UpdateProductInput } from './schemas.js';

export type ProductRow = Selectable<PaygProductsTable>;

export const createProduct = async (db: Db, clock: Clock, input: CreateProductInput): Promise<Result<ProductRow>> => {
  // Consumption of a product arrives as usage events named by its key: it must not be a metric's code.
  return db.transaction().execute(async (trx) => {
    const claimed = await claimUsageKey(trx, input.billing_key);
    if (!claimed.ok) return claimed;
    const now = clock.now();
    const row = await trx
      .insertInto('payg_products')
      .values({
        billing_key: input.billing_key,
        display_name: input.display_name,
        unit_price: input.unit_price,
        billing_cycle: input.billing_cycle,
        category: input.category,
        status: 'active',
        created_at: now,
        updated_at: now,
      })
      .onConflict((conflict) => conflict.column('billing_key').doNothing())
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? fail(new AppError('conflict', `product ${input.billing_key} already exists`)) : ok(row);
  });
};

/** A new unit price applies to days settled from now on; settled lines keep theirs. */
export const updateProduct = async (
  db: Db,
  clock: Clock,
  billingKey: string,
  input: UpdateProductInput,
): Promise<Result<ProductRow>> => {
  const row = await db
    .updateTable('payg_products')
    .set({ ...input, updated_at: clock.now() })
    .where('billing_key', '=', billingKey)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? fail(notFound(`product ${billingKey}`)) : ok(row);
};

export const listProducts = (db: Db, page: PageRequest) =>
  fetchPage(db.selectFrom('payg_products'), (query) => query.selectAll().orderBy('billing_key'), page);

export const toProductView = (row: ProductRow) => ({
  billing_key: row.billing_key,
  display_name: row.display_name,
  unit_price: row.unit_price,
  billing_cycle: row.billing_cycle,
  category: row.category,
  status: row.status,
  created_at: toRfc3339(row.created_at),
  updated_at: toRfc3339(row.updated_at),
});
