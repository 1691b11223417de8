import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { parseConfig, type RekeyConfig, type RekeyConfigInput, rk1, statementKind } from '../lambda/index.js';
import {
  commandInvoker,
  type DataApiStats,
  type Database,
  type EngineSpec,
  type LocalEndpoints,
  startLocal,
} from '../local/index.js';
import type { LatencySpec } from '../local/rds-data.js';
import { type CallRounds, callRounds, type TimedCall } from './call-rounds.js';
import type { BenchPacing, PacingApplied } from './pacing.js';
import { postgresCpuMs } from './proc-cpu.js';
import { BENCH_SCHEMA, BENCH_TABLE, SEED_SECRET, TEMPLATE_TABLES } from './seed.js';
import type { StepProcessReport } from './step-process.js';

const LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-bench';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** One rotation step: what its process measured, and what the endpoints and the database saw. */
export interface StepMeasure extends StepProcessReport {
  /** From spawning the step's process to its exit (Node's start and the bundle's load included). */
  readonly processMs: number;
  /** Data API calls and bytes during the step. */
  readonly dataApi: DataApiStats;
  /** Latency the step's calls waited out (the sum of the draws, for a spread). */
  readonly latencyWaitedMs: number;
  /** The step's calls as round trips waited for in a row (call-rounds.ts). */
  readonly rounds: CallRounds;
  /** CPU of the benchmark's own process meanwhile: the local Data API and Secrets Manager servers. */
  readonly serverCpuMs: number;
  /** CPU of the PostgreSQL server meanwhile (0 with the embedded engine, which runs in-process). */
  readonly postgresCpuMs: number;
}

/** A whole rotation (createSecret, setSecret, testSecret, finishSecret), one process per step. */
export interface RotationMeasure {
  readonly ok: boolean;
  /** The failed step's error, when the rotation failed. */
  readonly failure?: string;
  readonly steps: Readonly<Record<string, StepMeasure>>;
  /** Rows not under the new AWSCURRENT key afterwards, counted in SQL (0 when all went well). */
  readonly rowsLeft: number;
  /** The pacing the steps' config carried. */
  readonly pacing: PacingApplied;
}

/** How to run one rotation. */
export interface RotationRunOptions {
  readonly engine: EngineSpec | Database;
  /** Per-call Data API latency: ms, or a seeded spread. */
  readonly latency: LatencySpec;
  /** `config.pacing` for the steps. @default the config's default */
  readonly pacing?: BenchPacing | undefined;
  /** The bundled step entry: bench/step-lambda.ts (through the Data API) or bench/step-direct.ts. */
  readonly stepBundle: string;
  /** Extra environment for the step processes. */
  readonly env?: Readonly<Record<string, string>>;
  readonly pageRows?: number | undefined;
  readonly pageBytes?: number | undefined;
  readonly streams?: number | undefined;
  /** CPU-profile this step into `dir`. */
  readonly profile?: { readonly step: string; readonly dir: string } | undefined;
}

/** The config rekey runs with in the benchmark: one rk1 table of the benchmark's schema. */
export function benchConfig(
  dataApi: RekeyConfigInput['dataApi'],
  paging: {
    readonly rows?: number | undefined;
    readonly bytes?: number | undefined;
    readonly streams?: number | undefined;
  } = {},
  pacing?: Readonly<Record<string, unknown>>,
): RekeyConfigInput {
  return {
    // Passed as given: the core's config decides what the field may hold (see pacedConfig).
    ...(pacing === undefined ? {} : ({ pacing } as Record<string, unknown>)),
    secretTemplate: { encryptionKey: { kind: 'aes-256' } },
    dataKeyField: 'encryptionKey',
    codec: 'rk1',
    storedFields: [{ schema: BENCH_SCHEMA, table: BENCH_TABLE, id: 'id', columns: ['payload'] }],
    // The seeding tables hold the same values under the seed key, which a rotation makes AWSPREVIOUS:
    // testSecret's census would rightly refuse to promote while they do, unless they are left out.
    ignoredColumns: TEMPLATE_TABLES.map((table) => ({
      schema: BENCH_SCHEMA,
      table,
      column: 'payload',
      reason: 'the benchmark copies rows from it; it is never read with a rotated key',
    })),
    dataApi,
    // Only the fields asked for: the others keep the config's defaults, whatever they are by then.
    ...(paging.rows === undefined && paging.bytes === undefined && paging.streams === undefined
      ? {}
      : {
          paging: {
            ...(paging.rows === undefined ? {} : { maxRows: paging.rows }),
            ...(paging.bytes === undefined ? {} : { maxBytes: paging.bytes }),
            ...(paging.streams === undefined ? {} : { streams: paging.streams }),
          },
        }),
  };
}

/**
 * Starts the local endpoints on the engine with the given per-call latency, creates a secret holding
 * the seed key, and rotates it through RotateSecret: the local Secrets Manager runs each step as a
 * fresh process of `stepBundle`, as Lambda runs each invocation. Bounded: one attempt, and each step
 * process is killed after 16 minutes (the step itself stops at Lambda's 15).
 * @throws when the endpoints cannot start.
 */
export async function measureRotation(options: RotationRunOptions): Promise<RotationMeasure> {
  const local = await startLocal({ engine: options.engine, rotationAttempts: 1 });
  // Set here, not at start: startLocal takes ms only, the Data API also a spread (seeded anew per run).
  local.dataApi.setLatency(options.latency);
  const dir = mkdtempSync(join(tmpdir(), 'rekey-bench-steps-'));
  const sm = new SecretsManagerClient({
    endpoint: local.secretsManagerUrl,
    region: 'us-east-1',
    credentials: CREDENTIALS,
  });
  try {
    const { config, pacing } = pacedConfig(
      (p) =>
        benchConfig(
          { ...local.dataApiTarget, engine: 'postgres' },
          { rows: options.pageRows, bytes: options.pageBytes, streams: options.streams },
          p,
        ),
      options.pacing,
    );
    const reportFile = join(dir, 'steps.jsonl');
    const parentSide = new Map<string, Omit<StepMeasure, keyof StepProcessReport>>();
    const command = commandInvoker({
      command: process.execPath,
      args: [options.stepBundle],
      env: {
        ...local.env,
        NODE_OPTIONS: '',
        ...options.env,
        REKEY_CONFIG: JSON.stringify(config),
        POWERTOOLS_LOG_LEVEL: 'WARN',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        BENCH_STEP_REPORT: reportFile,
        ...(options.profile
          ? { BENCH_PROFILE_STEP: options.profile.step, BENCH_PROFILE_DIR: options.profile.dir }
          : {}),
      },
      timeoutMs: 960_000,
    });
    local.secretsManager.setInvoker(async (event) => {
      local.dataApi.resetStats();
      const calls: TimedCall[] = [];
      local.dataApi.observeCalls((call) =>
        calls.push({
          startedAt: call.receivedAt,
          endedAt: call.answeredAt,
          page: call.sql !== undefined && statementKind(call.sql) !== 'other',
        }),
      );
      const cpu = process.cpuUsage();
      const pgCpu = postgresCpuMs();
      const started = performance.now();
      try {
        await command(event);
      } finally {
        const used = process.cpuUsage(cpu);
        local.dataApi.observeCalls(undefined);
        parentSide.set(event.Step, {
          processMs: performance.now() - started,
          dataApi: local.dataApi.stats(),
          latencyWaitedMs: local.dataApi.latencyWaitedMs(),
          rounds: callRounds(calls),
          serverCpuMs: (used.user + used.system) / 1000,
          postgresCpuMs: postgresCpuMs() - pgCpu,
        });
      }
    });
    const created = await sm.send(
      new CreateSecretCommand({ Name: `rekey-bench-${Date.now()}`, SecretString: SEED_SECRET }),
    );
    await sm.send(
      new RotateSecretCommand({
        SecretId: created.ARN,
        RotationLambdaARN: LAMBDA_ARN,
        RotateImmediately: true,
      }),
    );
    await local.secretsManager.idle();
    const steps: Record<string, StepMeasure> = {};
    const lines = readLines(reportFile);
    for (const report of lines) {
      const side = parentSide.get(report.step);
      if (side) steps[report.step] = { ...report, ...side };
    }
    const failed = local.secretsManager.events().find((e) => e.type === 'RotationFailed');
    const current = await sm.send(
      new GetSecretValueCommand({ SecretId: created.ARN, VersionStage: 'AWSCURRENT' }),
    );
    return {
      ok: failed === undefined,
      ...(failed ? { failure: `${failed.step}: ${failed.error?.name}: ${failed.error?.message}` } : {}),
      steps,
      rowsLeft: await rowsOffKey(local, current.SecretString ?? '{}'),
      pacing,
    };
  } finally {
    sm.destroy();
    rmSync(dir, { recursive: true, force: true });
    await local.close();
  }
}

/**
 * The config with the requested pacing, or, when the core's config refuses the field (a build that
 * does not have it yet, or a value out of its bounds), without it: the run goes on at the config's
 * default and its results say the pacing was not applied.
 */
function pacedConfig(
  build: (pacing?: Readonly<Record<string, unknown>>) => RekeyConfigInput,
  pacing: BenchPacing | undefined,
): { config: RekeyConfig; pacing: PacingApplied } {
  const name = pacing?.name ?? 'default';
  if (pacing?.config === undefined)
    return { config: parseConfig(build(), 'bench config'), pacing: { name, applied: true } };
  try {
    return { config: parseConfig(build(pacing.config), 'bench config'), pacing: { name, applied: true } };
  } catch (error) {
    return {
      config: parseConfig(build(), 'bench config'),
      pacing: { name, applied: false, refused: (error as Error).message },
    };
  }
}

function readLines(file: string): StepProcessReport[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as StepProcessReport);
}

async function rowsOffKey(local: LocalEndpoints, secretString: string): Promise<number> {
  const field = (JSON.parse(secretString) as { encryptionKey?: string }).encryptionKey ?? '';
  const prefix = rk1.sqlPrefix(rk1.deriveKey(field)) ?? 'rk1:';
  const result = await local.engine.query(
    `SELECT COUNT(*) FROM ${BENCH_SCHEMA}.${BENCH_TABLE} WHERE SUBSTRING(payload, 1, ${prefix.length}) <> $1`,
    [prefix],
  );
  return Number(result.rows[0]?.[0] ?? -1);
}
