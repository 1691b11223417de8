/** Wall-clock time for the local endpoints; injected so tests move time instead of sleeping. */
export interface LocalClock {
  now(): number;
}

/** The machine's clock. */
export const systemClock: LocalClock = { now: () => Date.now() };

/** Waits the given milliseconds; injected so tests never sleep real time. */
export type Sleep = (ms: number) => Promise<void>;

/** A real timer-based sleep (resolves at once for 0 ms, so a zero latency costs nothing). */
export const realSleep: Sleep = (ms) =>
  ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
