import { sql, type SelectQueryBuilder } from 'kysely';
import { pageOffset, type PageRequest } from '../core/pagination.js';

/**
 * One page of a filtered query and the filter's total. `rows` adds the selection and the order
 * (newest first, ties by id, so pages never overlap or skip); the count runs on the bare filter.
 */
export const fetchPage = async <DB, TB extends keyof DB, O>(
  filtered: SelectQueryBuilder<DB, TB, object>,
  rows: (query: SelectQueryBuilder<DB, TB, object>) => SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
): Promise<{ rows: O[]; total: number }> => {
  const [items, count] = await Promise.all([
    rows(filtered).limit(page.page_size).offset(pageOffset(page)).execute(),
    // Kysely cannot resolve a selection on a generic table set; the row is exactly { total }.
    filtered.select(sql<bigint>`count(*)`.as('total')).executeTakeFirstOrThrow() as Promise<{ total: bigint }>,
  ]);
  return { rows: items, total: Number(count.total) };
};
