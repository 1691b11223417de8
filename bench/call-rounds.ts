/**
 * How many round trips a step waited for one after another, from the local Data API's view of its
 * calls: at a latency of L per call a step lasts about rounds × L, however many calls it sends side
 * by side, so rounds say where a step's time goes when it is bound by waiting (docs/benchmark.md).
 */

/** One call as the endpoint timed it: when its request had arrived and when its answer left. */
export interface TimedCall {
  readonly startedAt: number;
  readonly endedAt: number;
  /** A page read or a page write (the pacer's 'read' and 'write' statements), not a count or lookup. */
  readonly page: boolean;
}

/** A step's calls as round trips. */
export interface CallRounds {
  readonly calls: number;
  /**
   * The longest chain of calls each sent after the one before it was answered: the round trips the
   * step waited for in a row.
   */
  readonly rounds: number;
  /** The rounds before the step's first page was sent: its lookups and counts. */
  readonly beforeFirstPage: number;
  /** The most calls in flight at once. */
  readonly mostInFlight: number;
}

/** The round trips of a step's calls (none: all zero). */
export function callRounds(calls: readonly TimedCall[]): CallRounds {
  // Ties on the start go shortest first: a call answered the instant another is sent comes before it.
  const entries = [...calls]
    .sort((a, b) => a.startedAt - b.startedAt || a.endedAt - b.endedAt)
    .map((call) => ({ call, chain: 0 }));
  const byEnd = [...entries].sort((a, b) => a.call.endedAt - b.call.endedAt);
  let answered = 0;
  let longestAnswered = 0;
  let beforeFirstPage: number | undefined;
  for (const entry of entries) {
    // Every call answered by the time this one was sent started before it: its chain is known.
    for (; answered < byEnd.length; answered++) {
      const done = byEnd[answered] as (typeof byEnd)[number];
      if (done.call.endedAt > entry.call.startedAt) break;
      longestAnswered = Math.max(longestAnswered, done.chain);
    }
    entry.chain = longestAnswered + 1;
    if (entry.call.page && beforeFirstPage === undefined) beforeFirstPage = longestAnswered;
  }
  const rounds = entries.reduce((most, e) => Math.max(most, e.chain), 0);
  return {
    calls: calls.length,
    rounds,
    beforeFirstPage: beforeFirstPage ?? rounds,
    mostInFlight: mostInFlight(calls),
  };
}

function mostInFlight(calls: readonly TimedCall[]): number {
  // Ends before starts at the same instant: a call sent the moment another is answered takes its place.
  const events = calls
    .flatMap((c) => [
      { at: c.startedAt, delta: 1 },
      { at: c.endedAt, delta: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let most = 0;
  for (const e of events) {
    now += e.delta;
    most = Math.max(most, now);
  }
  return most;
}
