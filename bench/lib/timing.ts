import { performance } from 'node:perf_hooks';

/** Time since the call, in ms or seconds. */
export const stopwatch = (): { ms: () => number; seconds: () => number } => {
  const started = performance.now();
  return { ms: () => performance.now() - started, seconds: () => (performance.now() - started) / 1000 };
};

export interface StepTime {
  step: string;
  ms: number;
}

/**
 * Times the named steps of a load: `timed` runs one and keeps its ms in `steps` (and hands it to
 * `onStep`, e.g. to print it as it ends).
 */
export const stepTimer = (onStep?: (time: StepTime) => void) => {
  const steps: StepTime[] = [];
  const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await work();
    const time = { step, ms: Math.round(performance.now() - t0) };
    steps.push(time);
    onStep?.(time);
    return result;
  };
  return { timed, steps };
};
