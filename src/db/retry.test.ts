import { describe, expect, it } from 'vitest';
import { retryTransaction } from './retry.js';

const failure = (code: string) => Object.assign(new Error(code), { code });

describe('retryTransaction', () => {
  it('runs again after a deadlock or a serialization failure', async () => {
    const errors = [failure('40P01'), failure('40001')];
    let calls = 0;
    const result = await retryTransaction(async () => {
      calls += 1;
      const next = errors.shift();
      if (next !== undefined) throw next;
      return 'done';
    });
    expect({ result, calls }).toEqual({ result: 'done', calls: 3 });
  });

  it('gives up after the last attempt and never retries other errors', async () => {
    let calls = 0;
    await expect(
      retryTransaction(async () => {
        calls += 1;
        throw failure('40001');
      }, 3),
    ).rejects.toMatchObject({ code: '40001' });
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      retryTransaction(async () => {
        calls += 1;
        throw failure('23505');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(calls).toBe(1);
  });
});
