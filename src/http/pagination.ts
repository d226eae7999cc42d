import { Type } from 'typebox';
import { defaultPageSize, maxPageSize } from '../core/pagination.js';
import { withDefault } from './validation.js';

/**
 * Far past the end of any list, and small enough that the offset, (page - 1) × page_size, is an
 * exact JavaScript integer that fits PostgreSQL's bigint OFFSET.
 */
export const maxPage = 1_000_000_000;

/** `page` and `page_size` exactly as every list endpoint takes them; out of range is a 400. */
export const pageQueryFields = {
  page: withDefault(Type.Integer({ minimum: 1, maximum: maxPage, default: 1, description: 'Page number' })),
  page_size: withDefault(
    Type.Integer({
      minimum: 1,
      maximum: maxPageSize,
      default: defaultPageSize,
      description: 'Items per page',
    }),
  ),
};
