import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { ProgressTracker } from './progress.js';

const start = '2026-03-01T00:00:00Z';

describe('ProgressTracker', () => {
  it('works out the rate and the time left from the clock', () => {
    const clock = new ManualClock(start);
    const tracker = new ProgressTracker(clock, { done: 0, total: 100, totalIsEstimate: false });
    clock.advance(10_000);
    tracker.update({ done: 25, total: 100, totalIsEstimate: false });
    expect(tracker.snapshot()).toMatchObject({
      done: 25,
      total: 100,
      elapsedSeconds: 10,
      ratePerSecond: 2.5,
      etaSeconds: 30,
      finishedAt: null,
    });
  });

  it('knows no rate or time left before any time has passed or anything is done', () => {
    const clock = new ManualClock(start);
    const tracker = new ProgressTracker(clock, { done: 0, total: 10, totalIsEstimate: true });
    expect(tracker.snapshot()).toMatchObject({ ratePerSecond: null, etaSeconds: null });
    clock.advance(5000);
    expect(tracker.snapshot()).toMatchObject({ ratePerSecond: 0, etaSeconds: null });
  });

  it('has nothing left with a total of 0', () => {
    const clock = new ManualClock(start);
    const tracker = new ProgressTracker(clock);
    expect(tracker.snapshot()).toMatchObject({ done: 0, total: 0, etaSeconds: 0, ratePerSecond: null });
    clock.advance(1000);
    expect(tracker.snapshot()).toMatchObject({ done: 0, total: 0, etaSeconds: 0, ratePerSecond: 0 });
  });

  it('shows the done count as the total once an estimate is passed, with the time left unknown', () => {
    const clock = new ManualClock(start);
    const tracker = new ProgressTracker(clock, { done: 0, total: 4, totalIsEstimate: true });
    clock.advance(2000);
    tracker.update({ done: 6, total: 4, totalIsEstimate: true });
    expect(tracker.snapshot()).toMatchObject({ done: 6, total: 6, totalIsEstimate: true, etaSeconds: null });
  });

  it('freezes at the finish: elapsed time stops, nothing is left, later updates are ignored', () => {
    const clock = new ManualClock(start);
    const tracker = new ProgressTracker(clock, { done: 0, total: 10, totalIsEstimate: true });
    clock.advance(4000);
    tracker.update({ done: 8, total: 10, totalIsEstimate: true });
    tracker.finish();
    clock.advance(60_000);
    tracker.update({ done: 9, total: 10, totalIsEstimate: true });
    expect(tracker.finished).toBe(true);
    expect(tracker.snapshot()).toMatchObject({
      done: 8,
      elapsedSeconds: 4,
      ratePerSecond: 2,
      etaSeconds: 0,
      finishedAt: new Date('2026-03-01T00:00:04Z'),
    });
  });
});
