import { Type } from 'typebox';
import { defaultPageSize, maxPageSize } from '../core/pagination.js';

/**
 * Far past the end of any list, and small enough that the offset, (page - 1) × page_size, is an
 * exact JavaScript integer that fits PostgreSQL's bigint OFFSET.
 */
export const maxPage = 1_000_000_000;

/** `page` and `page_size` exactly as every list endpoint takes them; out of range is a 400. */
export const pageQueryFields = {
  page: Type.Integer({ minimum: 1, maximum: maxPage, default: 1, description: 'Page number' }),
  page_size: Type.Integer({
    minimum: 1,
    maximum: maxPageSize,
    default: defaultPageSize,
    description: 'Items per page',
  }),
};
