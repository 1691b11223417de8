/**
 * `npm run bench`: re-encryption throughput through the local Data API against the direct-SQL limit
 * and a row-by-row baseline, plus the Lambda bundle's cold import and the reader's decrypt rate.
 * See docs/benchmark.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseConfig } from '../lambda/index.js';
import { ROTATION_PROCESS_ENV } from '../lib/rotation-process.js';
import { createPgliteEngine, LOCAL_CLUSTER_ARN, LOCAL_DB_SECRET_ARN } from '../local/index.js';
import { type BaselineMeasure, measureBaseline } from './baseline-run.js';
import { buildBundles } from './build.js';
import { measureColdStart } from './cold-start.js';
import { measureDecryptRate } from './decrypt-rate.js';
import { toMarkdown } from './markdown.js';
import { type BenchEngine, type BenchOptions, parseOptions } from './options.js';
import { type BenchResults, formatRows, judgeTargets, type RunResult, summarize } from './results.js';
import { benchConfig, measureRotation, type RotationRunOptions } from './rotation-run.js';
import { ensureTemplate, restoreTable, seedEngine } from './seed.js';

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function main(argv: readonly string[]): Promise<void> {
  // The SDK warns once per process that it will need Node 22 from 2027; the benchmark runs on 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const options = parseOptions(argv);
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'rekey-bench-'));
  try {
    say('bundling lambda/handler.ts and the benchmark processes with esbuild');
    const bundles = await buildBundles(dir);
    // The deployed function's process settings, unless --node-options asks for others.
    const processEnv: Record<string, string> = {
      ...ROTATION_PROCESS_ENV,
      ...(options.nodeOptions === undefined ? {} : { NODE_OPTIONS: options.nodeOptions }),
    };
    const usePostgres = options.engines.includes('postgres');
    const sizes = [...options.sizes].sort((a, b) => a - b);
    const seed = usePostgres ? await ensureTemplate(options.pgUrl, sizes.at(-1) ?? 0) : undefined;
    if (seed)
      say(
        seed.seeded
          ? `seeded ${formatRows(seed.rows)} rows in ${(seed.ms / 1000).toFixed(1)} s`
          : 'reusing the seeded template',
      );
    const profileDir = options.profileStep ? join(options.outDir, 'profiles') : undefined;
    if (profileDir) {
      // Kept beside the profiles: bench/profile-summary.ts names owners by the bundles' module comments.
      mkdirSync(profileDir, { recursive: true });
      copyFileSync(bundles.stepLambda, join(profileDir, 'step-lambda.mjs'));
      copyFileSync(bundles.stepDirect, join(profileDir, 'step-direct.mjs'));
    }

    const runs: RunResult[] = [];
    const rotate = async (
      kind: RunResult['kind'],
      engine: BenchEngine,
      rows: number,
      latencyMs: number,
      prepare: () => Promise<number>,
      run: Omit<RotationRunOptions, 'latencyMs' | 'pageRows' | 'pageBytes' | 'profile'>,
    ) => {
      const prepareMs = await prepare();
      const loadAverage = loadavg()[0] ?? 0;
      const raw = await measureRotation({
        ...run,
        latencyMs,
        pageRows: options.pageRows,
        pageBytes: options.pageBytes,
        env: { ...run.env, ...processEnv },
        profile:
          options.profileStep && profileDir ? { step: options.profileStep, dir: profileDir } : undefined,
      });
      const result: RunResult = {
        kind,
        engine,
        rows,
        latencyMs,
        ok: raw.ok && raw.rowsLeft === 0,
        ...(raw.failure
          ? { failure: raw.failure }
          : raw.rowsLeft
            ? { failure: `${raw.rowsLeft} rows left` }
            : {}),
        rowsLeft: raw.rowsLeft,
        prepareMs,
        loadAverage,
        setSecret: summarize(raw.steps.setSecret, rows),
        testSecret: summarize(raw.steps.testSecret, rows),
        importMs: raw.steps.setSecret?.importMs,
        raw,
      };
      runs.push(result);
      say(describeRun(result));
    };

    for (const rows of sizes) {
      if (usePostgres) {
        const engine = { postgresUrl: options.pgUrl };
        const restore = () => restoreTable(options.pgUrl, rows);
        for (const latency of options.latencies)
          await rotate('rekey', 'postgres', rows, latency, restore, {
            engine,
            stepBundle: bundles.stepLambda,
          });
        if (!options.skip.has('direct'))
          await rotate('direct', 'postgres', rows, 0, restore, {
            engine,
            stepBundle: bundles.stepDirect,
            env: { BENCH_PG_URL: options.pgUrl },
          });
      }
      // The embedded engine at the headline latency only: it shows the local demo's speed, not a limit.
      if (options.engines.includes('pglite') && rows <= options.pgliteMax) {
        const engine = await createPgliteEngine();
        try {
          await rotate('rekey', 'pglite', rows, options.latencies[0] ?? 10, () => seedEngine(engine, rows), {
            engine,
            stepBundle: bundles.stepLambda,
          });
        } finally {
          await engine.close();
        }
      }
    }

    const baseline: BaselineMeasure[] = [];
    if (!options.skip.has('baseline') && usePostgres) {
      const rows = Math.min(options.baselineRows, sizes[0] ?? options.baselineRows);
      for (const latencyMs of options.latencies) {
        await restoreTable(options.pgUrl, sizes[0] ?? rows);
        const b = await measureBaseline({
          engine: { postgresUrl: options.pgUrl },
          latencyMs,
          bundle: bundles.baseline,
          rows,
          maxMs: options.quick ? 20_000 : 120_000,
        });
        baseline.push(b);
        say(
          `row-by-row baseline at ${latencyMs} ms: ${b.rows} rows in ${(b.ms / 1000).toFixed(1)} s (${b.rowsPerSec.toFixed(0)} rows/s)`,
        );
      }
    }

    const coldConfig = JSON.stringify(
      parseConfig(
        benchConfig({
          resourceArn: LOCAL_CLUSTER_ARN,
          secretArn: LOCAL_DB_SECRET_ARN,
          database: 'test',
          engine: 'postgres',
        }),
      ),
    );
    const coldStart = options.skip.has('cold-start')
      ? undefined
      : measureColdStart(bundles.lambda.file, coldConfig, options.quick ? 3 : 7);
    if (coldStart)
      say(
        `bundle ${(bundles.lambda.bytes / 1024).toFixed(0)} KiB, import ${coldStart.importMs.toFixed(0)} ms`,
      );
    const decrypt = options.skip.has('decrypt')
      ? undefined
      : await measureDecryptRate(options.quick ? 300 : 1000);

    const date = new Date().toISOString();
    const results: BenchResults = {
      date,
      command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
      machine: await machine(usePostgres ? options.pgUrl : undefined),
      options: {
        sizes,
        latencies: options.latencies,
        engines: options.engines,
        pgliteMax: options.pgliteMax,
        baselineRows: options.baselineRows,
        pageRows: options.pageRows ?? 'config default (1000)',
        pageBytes: options.pageBytes ?? 'config default (512 KiB)',
        processEnv,
        skip: [...options.skip],
        quick: options.quick,
      },
      ...(seed ? { seed } : {}),
      runs,
      baseline,
      bundle: bundles.lambda,
      ...(coldStart ? { coldStart } : {}),
      ...(decrypt ? { decrypt } : {}),
      targets: judgeTargets(runs, options.latencies[0] ?? 10),
      totalMs: performance.now() - started,
    };
    const markdown = toMarkdown(results);
    process.stdout.write(markdown);
    if (options.write) write(options, results, markdown);
    if (runs.some((r) => !r.ok)) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function describeRun(r: RunResult): string {
  const head = `${formatRows(r.rows)} ${r.kind} on ${r.engine}${r.kind === 'rekey' ? ` at ${r.latencyMs} ms` : ''}`;
  const s = r.setSecret;
  if (!r.ok || !s) return `${head}: FAILED ${r.failure ?? ''}`;
  return `${head} (load ${r.loadAverage.toFixed(1)}): setSecret ${(s.ms / 1000).toFixed(1)} s, ${s.rowsPerSec.toFixed(0)} rows/s, ${s.callsPer1kRows.toFixed(2)} calls/1k, peak RSS ${(s.peakRssKb / 1024).toFixed(0)} MiB`;
}

function write(options: BenchOptions, results: BenchResults, markdown: string): void {
  mkdirSync(options.outDir, { recursive: true });
  const name = `${results.date.slice(0, 10)}-${hostname()}${options.label ? `-${options.label}` : ''}`;
  const forJson = { ...results, bundle: results.bundle ? { ...results.bundle, file: undefined } : undefined };
  writeFileSync(join(options.outDir, `${name}.json`), `${JSON.stringify(forJson, null, 2)}\n`);
  writeFileSync(join(options.outDir, `${name}.md`), markdown);
  if (!options.label) writeFileSync(join(options.outDir, 'latest.md'), markdown);
  say(`wrote ${join(options.outDir, `${name}.json`)}${options.label ? '' : ' and latest.md'}`);
}

async function machine(pgUrl: string | undefined): Promise<Record<string, string | number>> {
  let postgres = 'no PostgreSQL';
  if (pgUrl) {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    const v = await client.query<{ server_version: string }>('SHOW server_version');
    postgres = `PostgreSQL ${v.rows[0]?.server_version.split(' ')[0] ?? '?'}`;
    await client.end();
  }
  return {
    host: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    postgres,
  };
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
