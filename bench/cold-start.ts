import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** Fresh-process import of the Lambda bundle: a proxy for the cold start's init phase. */
export interface ColdStart {
  readonly runs: number;
  /** Median time of `await import(bundle)` inside the process (parse, compile, module-scope init). */
  readonly importMs: number;
  readonly importMsMin: number;
  readonly importMsMax: number;
  /** Median wall time of the whole process (Node's own start, the import, exit), seen from outside. */
  readonly processMs: number;
  /** Median RSS right after the import, in KiB. */
  readonly rssKb: number;
}

const PROBE = `
const t = performance.now();
await import(process.env.BENCH_BUNDLE_URL);
const importMs = performance.now() - t;
console.log(JSON.stringify({ importMs, rssKb: Math.round(process.memoryUsage.rss() / 1024) }));
`;

/**
 * Imports the bundle in `runs` fresh Node processes, with a valid REKEY_CONFIG so that the handler's
 * module scope (config parsing, SDK client construction) runs as in Lambda. Bounded by `runs` and a
 * 60-second timeout per process.
 * @throws Error when a process fails.
 */
export function measureColdStart(bundle: string, rekeyConfig: string, runs: number): ColdStart {
  const imports: number[] = [];
  const processes: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], {
      env: {
        PATH: process.env.PATH,
        BENCH_BUNDLE_URL: pathToFileURL(bundle).href,
        REKEY_CONFIG: rekeyConfig,
        AWS_REGION: 'us-east-1',
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    processes.push(performance.now() - started);
    if (out.status !== 0) throw new Error(`importing the Lambda bundle failed: ${out.stderr}`);
    const probe = JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as {
      importMs: number;
      rssKb: number;
    };
    imports.push(probe.importMs);
    rss.push(probe.rssKb);
  }
  return {
    runs,
    importMs: median(imports),
    importMsMin: Math.min(...imports),
    importMsMax: Math.max(...imports),
    processMs: median(processes),
    rssKb: median(rss),
  };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
