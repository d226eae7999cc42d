import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { formatDuration, ProgressDisplay } from './progress-display.js';

const streamOf = (isTTY: boolean) => {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 60, write: (text: string) => writes.push(text) } };
};

describe('ProgressDisplay', () => {
  it('writes a plain line per interval when not on a terminal, then the last line', () => {
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const { writes, stream } = streamOf(false);
    const display = new ProgressDisplay({
      label: 'billing run',
      unit: 'subscriptions',
      stream,
      clock,
      intervalMs: 5000,
    });
    display.onProgress({ done: 0, total: 400, totalIsEstimate: true });
    clock.advance(3000);
    display.onProgress({ done: 60, total: 400, totalIsEstimate: true });
    expect(writes).toEqual([]);
    clock.advance(2000);
    display.onProgress({ done: 100, total: 400, totalIsEstimate: true });
    clock.advance(1000);
    display.onProgress({ done: 120, total: 400, totalIsEstimate: true });
    display.finish();
    expect(writes).toEqual([
      'billing run: 100/400 subscriptions (25%, total estimated at start), 20/s, 15 s left\n',
      'billing run: done, 120 subscriptions in 6 s (20/s)\n',
    ]);
  });

  it('redraws one line on a terminal, cut to its width', () => {
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const { writes, stream } = streamOf(true);
    const display = new ProgressDisplay({ label: 'settle', unit: 'tenant-days', stream, clock, intervalMs: 5000 });
    clock.advance(1000);
    display.onProgress({ done: 2, total: 4, totalIsEstimate: false });
    clock.advance(1000);
    display.onProgress({ done: 5, total: 4, totalIsEstimate: true });
    display.finish();
    expect(writes).toEqual([
      '\r\x1b[2Ksettle: 2/4 tenant-days (50%), 2/s, 1 s left',
      '\r\x1b[2Ksettle: 5/5 tenant-days (100%, total estimated at start), …',
      '\r\x1b[2Ksettle: done, 5 tenant-days in 2 s (2.5/s)\n',
    ]);
  });

  it('says a run that threw stopped rather than finished', () => {
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const { writes, stream } = streamOf(false);
    const display = new ProgressDisplay({
      label: 'billing run',
      unit: 'subscriptions',
      stream,
      clock,
      intervalMs: 5000,
    });
    display.onProgress({ done: 3, total: 10, totalIsEstimate: true });
    display.finish({ failed: true });
    expect(writes).toEqual(['billing run: stopped, 3 subscriptions in 0 s\n']);
  });

  it('writes durations the way people read them', () => {
    expect([4.25, 12.4, 185, 7620].map(formatDuration)).toEqual(['4.3 s', '12 s', '3 min 05 s', '2 h 07 min']);
  });
});
