import type { Clock } from '../../core/clock.js';
import { newId } from '../../core/ids.js';
import type { Db } from '../../db/database.js';
import { insertTestClock, type TestClockRow } from './repository.js';
import type { CreateTestClockInput } from './schemas.js';

/** A clock frozen at the instant asked for; `clock` (real time) dates its creation. */
export const createTestClock = (db: Db, clock: Clock, input: CreateTestClockInput): Promise<TestClockRow> => {
  const now = clock.now();
  return insertTestClock(db, {
    id: newId('testClock'),
    name: input.name ?? null,
    frozen_time: new Date(input.frozen_time),
    status: 'ready',
    advancing_to: null,
    created_at: now,
    updated_at: now,
  });
};
