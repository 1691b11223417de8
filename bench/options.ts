import { parseArgs } from 'node:util';
import { DEFAULT_BENCH_PG_URL } from './bench-database.js';
import { type BenchLatency, parseLatency } from './latency-option.js';
import { type BenchPacing, parsePacing } from './pacing.js';

/** Which database the local Data API runs on in a benchmark run. */
export type BenchEngine = 'postgres' | 'pglite';

/** What `npm run bench` measures, from its flags. */
export interface BenchOptions {
  readonly sizes: readonly number[];
  /** Per-call Data API latencies for the rekey runs (constants or spreads); the first is the headline. */
  readonly latencies: readonly BenchLatency[];
  /**
   * Sizes above this run at the headline latency only, with no direct-SQL run (which pairs with the
   * 0 ms runs): a ten-million-row run at every latency would take hours.
   */
  readonly allLatenciesUpTo: number;
  /** Seeds the draws of latency spreads, so runs repeat. */
  readonly latencySeed: number;
  /** Pacings the app-latency runs compare (at the headline latency); empty: none. */
  readonly pacing: readonly BenchPacing[];
  /** Rows of the app-latency runs. */
  readonly pacingRows: number;
  /** The app beside those runs: connections, pause between rounds, and how long it is timed alone. */
  readonly app: { readonly clients: number; readonly thinkMs: number; readonly quietMs: number };
  readonly engines: readonly BenchEngine[];
  /** PGlite runs only for sizes up to this many rows. */
  readonly pgliteMax: number;
  readonly pgUrl: string;
  /** Rows the row-by-row baseline handles for real; larger sizes are extrapolated from its rate. */
  readonly baselineRows: number;
  /** Overrides `paging.maxRows` of the config the Lambda runs with (to try bigger pages). */
  readonly pageRows: number | undefined;
  readonly skip: ReadonlySet<string>;
  /** Overrides `paging.maxBytes`. */
  readonly pageBytes: number | undefined;
  /** Sets `paging.streams` (a fixed number of streams, whatever the latency). */
  readonly streams: number | undefined;
  /** NODE_OPTIONS for the step processes (to try V8 heap flags). */
  readonly nodeOptions: string | undefined;
  /** Records a CPU profile of this step in each rekey run (e.g. `setSecret`). */
  readonly profileStep: string | undefined;
  readonly outDir: string;
  /** Added to the results' file name (`<date>-<host>-<label>.json`); `quick` in quick mode. */
  readonly label: string | undefined;
  readonly write: boolean;
  readonly quick: boolean;
}

/** Parts of the benchmark that `--skip` can leave out. */
export const SKIPPABLE = ['baseline', 'direct', 'zero', 'cold-start', 'decrypt', 'floors', 'app'] as const;

const USAGE = `npm run bench -- [options]
  --sizes 10k,100k,1m    rows per run, up to 10m (default 10k,100k,1m)
  --quick                one small size (2k), a short baseline sample: for CI, well under a minute
  --latency 100,250,10,0 per-call Data API latencies in ms for the rekey runs (default 100,250,10,0;
                         quick 10,0); the first is the headline. A spread: 100p50/270p90 (or 100/270),
                         each call drawn from a log-normal with that median and p90
  --latency-seed N       seed of the spreads' draws (default 1)
  --all-latencies-up-to N  sizes above N rows run at the headline latency only, without the
                         direct-SQL run (default 1m; 10m runs every latency at 10M rows too)
  --pacing default,off   config.pacing of the app-latency runs: default (the config's), off (bounds
                         that never bind), or a JSON object; each runs at the headline latency with an
                         app loop beside it (default default,off; quick: none)
  --pacing-rows N        rows of those runs (default the largest size, at most 1m)
  --app-clients N        the app's connections (default 2)
  --app-think-ms N       the app's pause between rounds of three queries (default 10)
  --app-quiet-s N        how long the app is timed alone before each rotation (default 15; quick 3)
  --engines postgres,pglite
  --pglite-max 100k      largest size run on the embedded engine (default 100k)
  --pg-url URL           PostgreSQL on loopback (default postgres://postgres@127.0.0.1:5432/rekey_bench,
                         a database of its own, created on first use)
  --baseline-rows N      rows the row-by-row baseline re-encrypts for real (default 2000; quick 200)
  --page-rows N          paging.maxRows for the Lambda's config (default: the config's default)
  --page-bytes N         paging.maxBytes (default: the config's default; at most 900 KiB)
  --streams N            paging.streams: this many streams whatever the latency (default: chosen
                         from the latency, lambda/passes/streams.ts)
  --node-options FLAGS   NODE_OPTIONS for the step processes instead of the deployed function's
                         (lib/rotation-process.ts)
  --skip a,b             leave out: ${SKIPPABLE.join(', ')}
  --profile STEP         CPU profile of that rotation step in every rekey run (setSecret)
  --out DIR              where results go (default bench/results)
  --label NAME           results file <date>-<host>-NAME.json (quick mode: quick); latest.md is
                         only rewritten by full runs without a label
  --no-write             print only`;

/**
 * Parses `npm run bench` flags.
 * @throws RangeError naming the flag and the value it got.
 */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      latency: { type: 'string' },
      'latency-seed': { type: 'string' },
      'all-latencies-up-to': { type: 'string' },
      pacing: { type: 'string' },
      'pacing-rows': { type: 'string' },
      'app-clients': { type: 'string' },
      'app-think-ms': { type: 'string' },
      'app-quiet-s': { type: 'string' },
      engines: { type: 'string' },
      'pglite-max': { type: 'string' },
      'pg-url': { type: 'string' },
      'baseline-rows': { type: 'string' },
      'page-rows': { type: 'string' },
      skip: { type: 'string' },
      profile: { type: 'string' },
      'node-options': { type: 'string' },
      'page-bytes': { type: 'string' },
      streams: { type: 'string' },
      out: { type: 'string' },
      label: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const pgUrl = values['pg-url'] ?? DEFAULT_BENCH_PG_URL;
  checkLoopback(pgUrl);
  const skip = new Set(list(values.skip));
  for (const s of skip) {
    if (!(SKIPPABLE as readonly string[]).includes(s))
      throw new RangeError(`--skip takes ${SKIPPABLE.join(', ')}, got '${s}'`);
  }
  if (values.label !== undefined && !/^[A-Za-z0-9-]{1,40}$/.test(values.label))
    throw new RangeError(`--label takes letters, digits and dashes, got '${values.label}'`);
  const latencies = list(values.latency ?? (quick ? '10,0' : '100,250,10,0')).map(parseLatency);
  if (latencies.length === 0) throw new RangeError('--latency needs at least one value');
  const sizes = list(values.sizes ?? (quick ? '2k' : '10k,100k,1m')).map((v) => count('--sizes', v));
  const pacing = skip.has('app') ? [] : parsePacing(values.pacing ?? (quick ? '' : 'default,off'));
  return {
    sizes,
    latencies: skip.has('zero')
      ? latencies.filter((l, i) => i === 0 || l.p50Ms !== 0 || l.p90Ms !== undefined)
      : latencies,
    latencySeed: number('--latency-seed', values['latency-seed'] ?? '1', 0),
    allLatenciesUpTo: count('--all-latencies-up-to', values['all-latencies-up-to'] ?? '1m'),
    pacing,
    pacingRows:
      values['pacing-rows'] === undefined
        ? Math.min(1_000_000, Math.max(...sizes))
        : count('--pacing-rows', values['pacing-rows']),
    app: {
      clients: count('--app-clients', values['app-clients'] ?? '2'),
      thinkMs: number('--app-think-ms', values['app-think-ms'] ?? '10', 0),
      quietMs: number('--app-quiet-s', values['app-quiet-s'] ?? (quick ? '3' : '15'), 1) * 1000,
    },
    engines: list(values.engines ?? 'postgres,pglite').map((e) => {
      if (e !== 'postgres' && e !== 'pglite')
        throw new RangeError(`--engines takes postgres, pglite, got '${e}'`);
      return e;
    }),
    pgliteMax: count('--pglite-max', values['pglite-max'] ?? '100k'),
    pgUrl,
    baselineRows: count('--baseline-rows', values['baseline-rows'] ?? (quick ? '200' : '2000')),
    pageRows: values['page-rows'] === undefined ? undefined : count('--page-rows', values['page-rows']),
    skip,
    profileStep: values.profile,
    nodeOptions: values['node-options'],
    pageBytes: values['page-bytes'] === undefined ? undefined : count('--page-bytes', values['page-bytes']),
    streams: values.streams === undefined ? undefined : count('--streams', values.streams),
    outDir: values.out ?? 'bench/results',
    label: values.label ?? (quick ? 'quick' : undefined),
    write: !(values['no-write'] ?? false),
    quick,
  };
}

/**
 * A row count such as `2000`, `10k` or `1m`.
 * @throws RangeError naming the flag and the value.
 */
export function count(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(value.trim());
  const n = m
    ? Number(m[1]) * (m[2]?.toLowerCase() === 'k' ? 1e3 : m[2]?.toLowerCase() === 'm' ? 1e6 : 1)
    : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 10_000_000)
    throw new RangeError(`${flag} takes a row count from 1 to 10m (like 10k or 1m), got '${value}'`);
  return n;
}

function number(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > 10_000)
    throw new RangeError(`${flag} takes numbers from ${min} to 10000, got '${value}'`);
  return n;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** The benchmark only ever talks to a database on this machine. */
function checkLoopback(url: string): void {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new RangeError(`--pg-url must be a postgres:// URL, got '${url}'`);
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host))
    throw new RangeError(
      `--pg-url must point at 127.0.0.1 (the benchmark stays on this machine), got '${host}'`,
    );
}
