import { sql, type SelectQueryBuilder } from 'kysely';
import { pageOffset, type PageRequest } from '../core/pagination.js';

/**
 * One page of a filtered query and the filter's exact total. `rows` adds the selection and the
 * order (newest first, ties by id, so pages never overlap or skip). A short page already tells the
 * total (offset + its rows), so the count, the costly part for large tenants, runs only when the
 * page is full or lies past the end: `count(*)` of the filter, or `countAll` when given (a cheaper
 * exact count of the same rows).
 */
export const fetchPage = async <DB, TB extends keyof DB, O>(
  filtered: SelectQueryBuilder<DB, TB, object>,
  rows: (query: SelectQueryBuilder<DB, TB, object>) => SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
  countAll?: () => Promise<number>,
): Promise<{ rows: O[]; total: number }> => {
  const offset = pageOffset(page);
  const items = await rows(filtered).limit(page.page_size).offset(offset).execute();
  if (items.length < page.page_size && (items.length > 0 || offset === 0)) {
    return { rows: items, total: offset + items.length };
  }
  if (countAll !== undefined) return { rows: items, total: await countAll() };
  // Kysely cannot resolve a selection on a generic table set; the row is exactly { total }.
  const count = (await filtered.select(sql<bigint>`count(*)`.as('total')).executeTakeFirstOrThrow()) as {
    total: bigint;
  };
  return { rows: items, total: Number(count.total) };
};
