import { spawn } from 'node:child_process';
import { type DataApiStats, type Database, type EngineSpec, startLocal } from '../local/index.js';
import type { BaselineJob, BaselineResult } from './baseline-worker.js';
import { type BenchLatency, latencySpec } from './latency-option.js';
import { BENCH_SCHEMA, BENCH_TABLE, randomSecret, SEED_SECRET } from './seed.js';

/** The row-by-row baseline on a sample of rows, at one latency. */
export interface BaselineMeasure {
  /** The constant latency, or a spread's median. */
  readonly latencyMs: number;
  /** The latency as run (absent in results files older than spreads). */
  readonly latency?: BenchLatency;
  /** Rows re-encrypted for real (a sample: larger sizes are extrapolated from its rate). */
  readonly rows: number;
  readonly ms: number;
  readonly rowsPerSec: number;
  readonly dataApi: DataApiStats;
  readonly maxRssKb: number;
}

/**
 * Runs the row-by-row baseline process against the local Data API on `engine` with the given latency.
 * It stops after `rows` rows or `maxMs`, whichever comes first; the process is killed a minute after
 * that if it has not ended.
 * @throws Error when the process fails.
 */
export async function measureBaseline(options: {
  readonly engine: EngineSpec | Database;
  readonly latency: BenchLatency;
  readonly latencySeed: number;
  readonly bundle: string;
  readonly rows: number;
  readonly maxMs: number;
}): Promise<BaselineMeasure> {
  const local = await startLocal({ engine: options.engine });
  local.dataApi.setLatency(latencySpec(options.latency, options.latencySeed));
  try {
    const key = (secret: string) => (JSON.parse(secret) as { encryptionKey: string }).encryptionKey;
    const job: BaselineJob = {
      endpoint: local.dataApiUrl,
      target: { ...local.dataApiTarget, engine: 'postgres' },
      sourceKey: key(SEED_SECRET),
      targetKey: key(randomSecret()),
      table: `${BENCH_SCHEMA}.${BENCH_TABLE}`,
      tableName: BENCH_TABLE,
      rows: options.rows,
      maxMs: options.maxMs,
    };
    local.dataApi.resetStats();
    const result = await runProcess(options.bundle, JSON.stringify(job), options.maxMs + 60_000);
    return {
      latencyMs: options.latency.p50Ms,
      latency: options.latency,
      rows: result.rows,
      ms: result.ms,
      rowsPerSec: result.rows / (result.ms / 1000),
      dataApi: local.dataApi.stats(),
      maxRssKb: result.maxRssKb,
    };
  } finally {
    await local.close();
  }
}

function runProcess(bundle: string, input: string, timeoutMs: number): Promise<BaselineResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle], {
      env: { ...process.env, NODE_OPTIONS: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`the baseline process exited with code ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as BaselineResult);
    });
    child.stdin.end(input);
  });
}
