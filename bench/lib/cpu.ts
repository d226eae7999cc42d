import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Busy and total CPU time of the whole machine so far, in ms. */
const machineCpuMs = (): { busy: number; total: number } =>
  cpus().reduce(
    (sum, { times }) => {
      const total = times.user + times.nice + times.sys + times.idle + times.irq;
      return { busy: sum.busy + total - times.idle, total: sum.total + total };
    },
    { busy: 0, total: 0 },
  );

export interface CpuUse {
  /** Cores this process used on average. */
  nodeCores: number;
  /** Share of the whole machine's CPU time that was busy (PostgreSQL, this process, anything else). */
  machineBusy: number;
}

/** Starts watching CPU use; the returned function tells the use since the call. */
export const watchCpu = (): (() => CpuUse) => {
  const node = process.cpuUsage();
  const machine = machineCpuMs();
  const started = performance.now();
  return () => {
    const used = process.cpuUsage(node);
    const now = machineCpuMs();
    return {
      nodeCores: Number(((used.user + used.system) / 1000 / (performance.now() - started)).toFixed(2)),
      machineBusy: Number(((now.busy - machine.busy) / Math.max(1, now.total - machine.total)).toFixed(2)),
    };
  };
};

/** 1/5/15-minute load averages: other work on the machine skews every figure, so each run records them. */
export const loadAverages = (): number[] => loadavg().map((x) => Number(x.toFixed(2)));
