/**
 * Entry of a step process for the direct-SQL limit: the same rotation function and re-encryption
 * engine as the Lambda, with Secrets Manager through the local endpoint, but every SQL statement sent
 * over one direct PostgreSQL connection (BENCH_PG_URL) instead of the Data API. Bundled by
 * bench/build.ts.
 */
import { createDeps, readConfig, rotationFunction } from '../lambda/index.js';
import { type DirectRunner, directRunner } from './pg-runner.js';
import { runStepProcess } from './step-process.js';

let db: DirectRunner | undefined;
await runStepProcess(
  async () => {
    const url = process.env.BENCH_PG_URL;
    if (!url) throw new Error('BENCH_PG_URL must name the PostgreSQL database');
    db = await directRunner(url);
    return rotationFunction({ ...createDeps(readConfig(process.env)), db });
  },
  {
    statements: () => db?.statements() ?? 0,
    backendCpuMs: () => db?.backendCpuMs() ?? 0,
    close: () => db?.close() ?? Promise.resolve(),
  },
);
