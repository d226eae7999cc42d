import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Clock } from '../core/clock.js';

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;

interface Window {
  count: number;
  startMs: number;
}

/** Keys kept per limiter; the least recently seen is dropped beyond it, so memory stays bounded. */
const defaultCapacity = 50_000;

/**
 * The rate limiter's counters in this process's memory, in fixed windows timed by the injected
 * clock (the plugin's own memory store reads the wall clock). Replicas behind one balancer
 * would each count apart: they need a shared store (the plugin's Redis store) in place of this.
 */
export const memoryRateLimitStore = (clock: Clock, capacity = defaultCapacity): FastifyRateLimitStoreCtor =>
  class MemoryRateLimitStore implements FastifyRateLimitStore {
    private readonly windows = new Map<string, Window>();

    incr(key: string, callback: Callback, timeWindow: number): void {
      const nowMs = clock.now().getTime();
      const current = this.liveWindow(key, nowMs, timeWindow) ?? { count: 0, startMs: nowMs };
      current.count += 1;
      // Re-inserted so the map's order is least recently seen first.
      this.windows.delete(key);
      this.windows.set(key, current);
      if (this.windows.size > capacity) this.windows.delete(this.windows.keys().next().value as string);
      callback(null, { current: current.count, ttl: current.startMs + timeWindow - nowMs });
    }

    /** The count without counting this request (the plugin's `{ increment: false }`). */
    read(key: string, callback: Callback, timeWindow: number): void {
      const nowMs = clock.now().getTime();
      const current = this.liveWindow(key, nowMs, timeWindow);
      callback(
        null,
        current === null
          ? { current: 0, ttl: 0 }
          : { current: current.count, ttl: current.startMs + timeWindow - nowMs },
      );
    }

    child(): FastifyRateLimitStore {
      return new MemoryRateLimitStore();
    }

    /** The key's window if it is still running; a clock set back also starts a new one. */
    private liveWindow(key: string, nowMs: number, timeWindow: number): Window | null {
      const current = this.windows.get(key);
      if (current === undefined || nowMs >= current.startMs + timeWindow || nowMs < current.startMs) return null;
      return current;
    }
  };
