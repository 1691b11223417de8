import type { Clock } from '../../lambda/ports.js';

/** A clock that only moves when told to (or when something sleeps). */
export function fakeClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void; slept: number[] } {
  let now = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}
