/** SQLSTATEs after which the whole transaction may simply run again: nothing of it was committed. */
const retryableCodes = new Set(['40001', '40P01']);

export const isRetryableTransactionError = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && retryableCodes.has(String((error as { code?: unknown }).code));

/**
 * Runs a transaction again after a serialization failure or a deadlock, a few times. The work
 * must be the whole transaction, so a retry starts from a clean slate.
 */
export const retryTransaction = async <T>(work: () => Promise<T>, attempts = 4): Promise<T> => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isRetryableTransactionError(error)) throw error;
    }
  }
};
