import type { RecordStatus } from '../../db/schema.js';

/** What can be done to a finalised record, and the status each action moves it from and to. */
export const recordActions = {
  mark_paid: { from: ['pending', 'failed'], to: 'paid' },
  mark_failed: { from: ['pending'], to: 'failed' },
  retry: { from: ['failed'], to: 'pending' },
  refund: { from: ['paid'], to: 'refunded' },
} as const satisfies Record<string, { from: readonly RecordStatus[]; to: RecordStatus }>;

export type RecordAction = keyof typeof recordActions;

/** The status an action leads to from `current`, or null when the move is not allowed. */
export const nextStatus = (current: RecordStatus, action: RecordAction): RecordStatus | null => {
  const move = recordActions[action];
  return (move.from as readonly RecordStatus[]).includes(current) ? move.to : null;
};
