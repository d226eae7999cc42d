/** The canonical IANA name of a time zone ("asia/shanghai" → "Asia/Shanghai"), or null if unknown. */
export const canonicalTimeZone = (name: string): string | null => {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
};
