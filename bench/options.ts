import { parseArgs } from 'node:util';

/** Which database the local Data API runs on in a benchmark run. */
export type BenchEngine = 'postgres' | 'pglite';

/** What `npm run bench` measures, from its flags. */
export interface BenchOptions {
  readonly sizes: readonly number[];
  /** Per-call Data API latencies for the rekey runs; the first is the headline. */
  readonly latencies: readonly number[];
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
export const SKIPPABLE = ['baseline', 'direct', 'zero', 'cold-start', 'decrypt'] as const;

const USAGE = `npm run bench -- [options]
  --sizes 10k,100k,1m    rows per run (default 10k,100k,1m)
  --quick                one small size (2k), a short baseline sample: for CI, well under a minute
  --latency 10,0         per-call Data API latencies in ms for the rekey runs (default 10,0; first is the headline)
  --engines postgres,pglite
  --pglite-max 100k      largest size run on the embedded engine (default 100k)
  --pg-url URL           PostgreSQL on loopback (default postgres://postgres@127.0.0.1:5432/test)
  --baseline-rows N      rows the row-by-row baseline re-encrypts for real (default 2000; quick 200)
  --page-rows N          paging.maxRows for the Lambda's config (default: the config default, 1000)
  --page-bytes N         paging.maxBytes (default: the config default, 512 KiB; at most 900 KiB)
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
      engines: { type: 'string' },
      'pglite-max': { type: 'string' },
      'pg-url': { type: 'string' },
      'baseline-rows': { type: 'string' },
      'page-rows': { type: 'string' },
      skip: { type: 'string' },
      profile: { type: 'string' },
      'node-options': { type: 'string' },
      'page-bytes': { type: 'string' },
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
  const pgUrl = values['pg-url'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  checkLoopback(pgUrl);
  const skip = new Set(list(values.skip));
  for (const s of skip) {
    if (!(SKIPPABLE as readonly string[]).includes(s))
      throw new RangeError(`--skip takes ${SKIPPABLE.join(', ')}, got '${s}'`);
  }
  if (values.label !== undefined && !/^[A-Za-z0-9-]{1,40}$/.test(values.label))
    throw new RangeError(`--label takes letters, digits and dashes, got '${values.label}'`);
  const latencies = list(values.latency ?? '10,0').map((v) => number('--latency', v, 0));
  if (latencies.length === 0) throw new RangeError('--latency needs at least one value');
  return {
    sizes: list(values.sizes ?? (quick ? '2k' : '10k,100k,1m')).map((v) => count('--sizes', v)),
    latencies: skip.has('zero') ? latencies.filter((l, i) => i === 0 || l !== 0) : latencies,
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
