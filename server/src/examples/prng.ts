/**
 * A small seeded PRNG (mulberry32). Examples must be identical for a seed on every machine and Node version, which
 * Math.random cannot give. Each file gets its own stream derived from (seed, path), so adding a file to the
 * repository does not change the examples drawn from the others.
 */
import { createHash } from 'node:crypto';

export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A PRNG for one purpose (e.g. a file path) under a run seed. */
export function rngFor(seed: number, key: string): Rng {
  return mulberry32(createHash('sha256').update(`${seed}\0${key}`).digest().readUInt32LE(0));
}

/** Integer in [lo, hi] inclusive. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** Fisher-Yates shuffle in place. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
