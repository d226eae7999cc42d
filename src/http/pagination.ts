import { Type } from 'typebox';
import { defaultPageSize, maxPageSize } from '../core/pagination.js';

/** `page` and `page_size` exactly as every list endpoint takes them; out of range is a 400. */
export const pageQueryFields = {
  page: Type.Integer({ minimum: 1, default: 1, description: 'Page number' }),
  page_size: Type.Integer({
    minimum: 1,
    maximum: maxPageSize,
    default: defaultPageSize,
    description: 'Items per page',
  }),
};
