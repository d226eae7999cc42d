/** What keyword search looks through, lower-cased once at write time. */
export const buildSearchText = (parts: (string | null)[]): string =>
  parts
    .filter((part): part is string => part !== null)
    .join('\n')
    .toLowerCase();

export const normaliseSearch = (text: string): string => text.toLowerCase();
