/**
 * The pacing a rotation runs with (`config.pacing`, which bounds the load rekey puts on the database):
 * `default` leaves the field out, so the core's own default applies; `off` sets bounds that never
 * bind (full speed); `{...}` passes that JSON object as the field. A build whose config
 * does not know the field (or refuses these values) runs without it, and the results say so.
 */

/** One `--pacing` entry. */
export interface BenchPacing {
  /** `default`, `off`, or the JSON as given. */
  readonly name: string;
  /** What goes into the config's `pacing` field; `undefined` leaves the field out. */
  readonly config: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Full speed in lambda/config.ts's terms: the most statements in flight it allows, no rows-per-second
 * bound (the field left out), and a latency rise the backoff would only answer at 1000 times its
 * baseline, which never happens.
 */
export const FULL_SPEED_PACING: Readonly<Record<string, unknown>> = {
  maxConcurrentStatements: 128,
  backoffLatencyFactor: 1000,
};

/**
 * `--pacing default,off` or with a JSON object among them (`default,{"maxRowsPerSecond":5000}`):
 * commas inside braces do not split.
 * @throws RangeError naming the flag and the entry it could not read.
 */
export function parsePacing(value: string): BenchPacing[] {
  const entries: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of value) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      entries.push(current);
      current = '';
    } else current += ch;
  }
  entries.push(current);
  return entries
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
    .map((entry) => {
      if (entry === 'default') return { name: 'default', config: undefined };
      if (entry === 'off') return { name: 'off', config: FULL_SPEED_PACING };
      let parsed: unknown;
      try {
        parsed = JSON.parse(entry);
      } catch {
        parsed = undefined;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new RangeError(`--pacing takes default, off or a JSON object, got '${entry}'`);
      return { name: entry, config: parsed as Record<string, unknown> };
    });
}

/** How a run's pacing went into its config. */
export interface PacingApplied {
  readonly name: string;
  /** False when the config refused the field and the run went without it. */
  readonly applied: boolean;
  /** The config's message when it refused the field. */
  readonly refused?: string;
}
