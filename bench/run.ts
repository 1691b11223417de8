/**
 * `npm run bench`: re-encryption throughput through the local Data API at per-call latencies against
 * the direct-SQL limit, the physical floors (AES-GCM on one thread, the database's own rewrite) and a
 * row-by-row baseline; what it costs in Lambda at each memory; an app's query latency during a
 * rotation; the Lambda bundle's cold import and the reader's decrypt rate. See docs/benchmark.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseConfig } from '../lambda/index.js';
import { ROTATION_PROCESS_ENV } from '../lib/rotation-process.js';
import { createPgliteEngine, LOCAL_CLUSTER_ARN, LOCAL_DB_SECRET_ARN } from '../local/index.js';
import { type BaselineMeasure, measureBaseline } from './baseline-run.js';
import { ensureBenchDatabase } from './bench-database.js';
import { holdBenchLock } from './bench-lock.js';
import { buildBundles } from './build.js';
import { measureColdStart } from './cold-start.js';
import { measureDecryptRate } from './decrypt-rate.js';
import { type DatabaseFloor, measureCryptoFloor, measureDatabaseFloor } from './floors.js';
import { constantLatency } from './latency-option.js';
import { toMarkdown } from './markdown.js';
import { type BenchOptions, parseOptions } from './options.js';
import { measurePacing } from './pacing-run.js';
import {
  type BenchResults,
  formatRows,
  judgeTargets,
  memoryAdvice,
  type PacingResult,
  type RunResult,
} from './results.js';
import { describePacing, rotationRunner } from './rotate.js';
import { benchConfig } from './rotation-run.js';
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
    if (usePostgres) await ensureBenchDatabase(options.pgUrl, say);
    const release = usePostgres ? await holdBenchLock(options.pgUrl, say) : undefined;
    try {
      await measureAll(options, argv, bundles, processEnv, started);
    } finally {
      await release?.();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureAll(
  options: BenchOptions,
  argv: readonly string[],
  bundles: Awaited<ReturnType<typeof buildBundles>>,
  processEnv: Record<string, string>,
  started: number,
): Promise<void> {
  const usePostgres = options.engines.includes('postgres');
  const sizes = [...options.sizes].sort((a, b) => a - b);
  const pacingRows = usePostgres && options.pacing.length ? options.pacingRows : 0;
  const seed = usePostgres
    ? await ensureTemplate(options.pgUrl, Math.max(sizes.at(-1) ?? 0, pacingRows))
    : undefined;
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
  // First, on a machine not yet busy with rotations: it does not depend on the table's size.
  const crypto = options.skip.has('floors') ? undefined : measureCryptoFloor(options.quick ? 300 : 2000);
  if (crypto)
    say(
      `AES-256-GCM open+seal on one thread: ${crypto.openSealPerCpuSec} values per CPU-second (${crypto.openSealPerSec}/s of wall time)`,
    );

  const headline = options.latencies[0] ?? constantLatency(10);
  const runs: RunResult[] = [];
  const rotate = rotationRunner({
    latencySeed: options.latencySeed,
    pageRows: options.pageRows,
    pageBytes: options.pageBytes,
    streams: options.streams,
    processEnv,
    profile: options.profileStep && profileDir ? { step: options.profileStep, dir: profileDir } : undefined,
    say,
  });

  const database: DatabaseFloor[] = [];
  for (const rows of sizes) {
    if (usePostgres) {
      const engine = { postgresUrl: options.pgUrl };
      const restore = () => restoreTable(options.pgUrl, rows);
      const every = rows <= options.allLatenciesUpTo;
      for (const latency of every ? options.latencies : [headline])
        runs.push(
          await rotate('rekey', 'postgres', rows, latency, restore, {
            engine,
            stepBundle: bundles.stepLambda,
          }),
        );
      if (every && !options.skip.has('direct'))
        runs.push(
          await rotate('direct', 'postgres', rows, constantLatency(0), restore, {
            engine,
            stepBundle: bundles.stepDirect,
            env: { BENCH_PG_URL: options.pgUrl },
          }),
        );
      if (!options.skip.has('floors')) {
        const floor = await measureDatabaseFloor(options.pgUrl, rows);
        database.push(floor);
        say(`${formatRows(rows)} rows rewritten by PostgreSQL itself: ${floor.rowsPerSec} rows/s`);
      }
    }
    // The embedded engine at the headline latency only: it shows the local demo's speed, not a limit.
    if (options.engines.includes('pglite') && rows <= options.pgliteMax) {
      const engine = await createPgliteEngine();
      try {
        runs.push(
          await rotate('rekey', 'pglite', rows, headline, () => seedEngine(engine, rows), {
            engine,
            stepBundle: bundles.stepLambda,
          }),
        );
      } finally {
        await engine.close();
      }
    }
  }

  const pacing: PacingResult[] = [];
  if (usePostgres) {
    for (const p of options.pacing) {
      const result = await measurePacing({
        url: options.pgUrl,
        rows: pacingRows,
        appBundle: bundles.appLoop,
        app: options.app,
        rotate: (prepare) =>
          rotate('rekey', 'postgres', pacingRows, headline, prepare, {
            engine: { postgresUrl: options.pgUrl },
            stepBundle: bundles.stepLambda,
            pacing: p,
          }),
      });
      pacing.push(result);
      say(describePacing(result));
    }
  }

  const baseline: BaselineMeasure[] = [];
  if (!options.skip.has('baseline') && usePostgres) {
    const rows = Math.min(options.baselineRows, sizes[0] ?? options.baselineRows);
    for (const latency of options.latencies) {
      await restoreTable(options.pgUrl, sizes[0] ?? rows);
      const b = await measureBaseline({
        engine: { postgresUrl: options.pgUrl },
        latency,
        latencySeed: options.latencySeed,
        bundle: bundles.baseline,
        rows,
        maxMs: options.quick ? 20_000 : 120_000,
      });
      baseline.push(b);
      say(
        `row-by-row baseline at ${latency.label}: ${b.rows} rows in ${(b.ms / 1000).toFixed(1)} s (${b.rowsPerSec.toFixed(0)} rows/s)`,
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
    say(`bundle ${(bundles.lambda.bytes / 1024).toFixed(0)} KiB, import ${coldStart.importMs.toFixed(0)} ms`);
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
      latencySeed: options.latencySeed,
      allLatenciesUpTo: options.allLatenciesUpTo,
      pacing: options.pacing.map((p) => p.name),
      pacingRows,
      app: options.app,
      engines: options.engines,
      pgliteMax: options.pgliteMax,
      baselineRows: options.baselineRows,
      pageRows: options.pageRows ?? 'the config default',
      pageBytes: options.pageBytes ?? 'the config default',
      streams: options.streams ?? 'chosen from the latency',
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
    floors: { ...(crypto ? { crypto } : {}), database },
    pacing,
    ...withMemory(memoryAdvice(runs, headline)),
    targets: judgeTargets(runs, pacing, crypto),
    totalMs: performance.now() - started,
  };
  const markdown = toMarkdown(results);
  process.stdout.write(markdown);
  if (results.memory) say(`memory: ${results.memory.choice.reason}`);
  if (options.write) write(options, results, markdown);
  if ([...runs, ...pacing.map((p) => p.run)].some((r) => !r.ok)) process.exitCode = 1;
}

function withMemory(memory: BenchResults['memory']): Pick<BenchResults, 'memory'> {
  return memory ? { memory } : {};
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
