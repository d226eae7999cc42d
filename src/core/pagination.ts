/** The seeds' PageInfo, field for field. */
export interface PageInfo {
  page: number;
  page_size: number;
  total: number;
  total_pages: number;
  has_next: boolean;
  has_prev: boolean;
}

export interface PageRequest {
  page: number;
  page_size: number;
}

export const defaultPageSize = 20;
export const maxPageSize = 100;

export const pageInfo = ({ page, page_size }: PageRequest, total: number): PageInfo => {
  const totalPages = Math.ceil(total / page_size);
  return {
    page,
    page_size,
    total,
    total_pages: totalPages,
    has_next: page < totalPages,
    has_prev: page > 1,
  };
};

export const pageOffset = ({ page, page_size }: PageRequest): number => (page - 1) * page_size;
