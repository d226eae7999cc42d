/** Seeded draws, so every run (and every step of one) loads and sends the same data. */

export type Random = () => number;

/** mulberry32: a small seeded generator. */
export const seededRandom = (start: number): Random => {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** A whole number from low to high, both included. */
export const between = (random: Random, low: number, high: number): number =>
  low + Math.floor(random() * (high - low + 1));

/** Sizes spread over orders of magnitude, as real bandwidth, storage and consumption figures are. */
export const logUniform = (random: Random, low: number, high: number): number =>
  Math.floor(Math.exp(Math.log(low) + random() * (Math.log(high) - Math.log(low))));

export const chance = (random: Random, p: number): boolean => random() < p;

export const oneOf = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** Picks one of `items` with probability proportional to its weight. */
export const weightedPicker = <T>(items: readonly { item: T; weight: number }[]): ((random: Random) => T) => {
  const total = items.reduce((sum, { weight }) => sum + weight, 0);
  return (random) => {
    let left = random() * total;
    for (const { item, weight } of items) {
      left -= weight;
      if (left < 0) return item;
    }
    return items[items.length - 1]!.item;
  };
};
