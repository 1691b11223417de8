import type { Clock } from '../../lambda/ports.js';

/** An operator command's clock whose first sleep is held until the test lets it go on. */
export interface HeldClock {
  readonly clock: Clock;
  /** Resolves with the milliseconds asked for when the command's first sleep starts. */
  readonly sleeping: Promise<number>;
  /** Ends the held sleep (time is moved on to its end if the test has not done so already). */
  release(): void;
}

/**
 * Time for the multi-rotation scenario, shared by the rotation, the local Secrets Manager, the key
 * rings and the operator commands, so the reader bound (minutes in production, a second here) is
 * crossed by moving the clock, never by sleeping. It only moves when the test says so, or when the
 * rotation's own code sleeps (a retry backoff), as test/support/fake-clock.ts does.
 */
export class VirtualClock {
  private t: number;

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  /** Moves time on by `ms`. */
  advance(ms: number): void {
    this.t += Math.max(0, ms);
  }

  /** Moves time on to `at` (never back). */
  advanceTo(at: number): void {
    this.t = Math.max(this.t, at);
  }

  /** For the rotation and the sweep: a sleep moves time on and ends at once. */
  readonly passing: Clock = {
    now: () => this.t,
    sleep: async (ms) => this.advance(ms),
  };

  /**
   * For an operator command racing a step: its first sleep (abort waiting for running steps to notice
   * it) starts, is reported through `sleeping`, and ends only on `release()`, so the test decides what
   * the racing step may do meanwhile. Later sleeps pass at once.
   */
  held(): HeldClock {
    let started: ((ms: number) => void) | undefined;
    let go: (() => void) | undefined;
    const sleeping = new Promise<number>((resolve) => {
      started = resolve;
    });
    const released = new Promise<void>((resolve) => {
      go = resolve;
    });
    let first = true;
    return {
      sleeping,
      release: () => go?.(),
      clock: {
        now: () => this.t,
        sleep: async (ms) => {
          if (!first) {
            this.advance(ms);
            return;
          }
          first = false;
          const until = this.t + Math.max(0, ms);
          started?.(ms);
          await released;
          this.advanceTo(until);
        },
      },
    };
  }
}
