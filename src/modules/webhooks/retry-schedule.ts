/** Waits after each failed attempt in turn; the last repeats until the retry window closes. */
export const retryDelaysMs = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  14 * 3_600_000,
];

/** A delivery is retried for this long after its first attempt; an endpoint failing this long is disabled. */
export const retryWindowMs = 72 * 3_600_000;

/**
 * When a delivery that has failed `attemptsMade` times is tried next, or null when it has failed
 * for good. The last retry falls exactly at the window's end, so a delivery is given up exactly
 * 72 h after its first attempt.
 */
export const nextAttemptAt = (firstAttemptedAt: Date, attemptsMade: number, now: Date): Date | null => {
  const deadline = firstAttemptedAt.getTime() + retryWindowMs;
  if (now.getTime() >= deadline) return null;
  const delay = retryDelaysMs[Math.min(attemptsMade, retryDelaysMs.length) - 1] ?? retryDelaysMs[0]!;
  return new Date(Math.min(now.getTime() + delay, deadline));
};

/** An endpoint whose every attempt since `failingSince` failed, for the whole window, is disabled. */
export const failingTooLong = (failingSince: Date, now: Date): boolean =>
  now.getTime() - failingSince.getTime() >= retryWindowMs;
