import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { parseConfig, type RekeyConfigInput, rk1 } from '../lambda/index.js';
import {
  commandInvoker,
  type DataApiStats,
  type Database,
  type EngineSpec,
  type LocalEndpoints,
  startLocal,
} from '../local/index.js';
import { postgresCpuMs } from './proc-cpu.js';
import { BENCH_SCHEMA, BENCH_TABLE, SEED_SECRET } from './seed.js';
import type { StepProcessReport } from './step-process.js';

const LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-bench';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** One rotation step: what its process measured, and what the endpoints and the database saw. */
export interface StepMeasure extends StepProcessReport {
  /** From spawning the step's process to its exit (Node's start and the bundle's load included). */
  readonly processMs: number;
  /** Data API calls and bytes during the step. */
  readonly dataApi: DataApiStats;
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
}

/** How to run one rotation. */
export interface RotationRunOptions {
  readonly engine: EngineSpec | Database;
  readonly latencyMs: number;
  /** The bundled step entry: bench/step-lambda.ts (through the Data API) or bench/step-direct.ts. */
  readonly stepBundle: string;
  /** Extra environment for the step processes. */
  readonly env?: Readonly<Record<string, string>>;
  readonly pageRows?: number | undefined;
  readonly pageBytes?: number | undefined;
  /** CPU-profile this step into `dir`. */
  readonly profile?: { readonly step: string; readonly dir: string } | undefined;
}

/** The config rekey runs with in the benchmark: one rk1 table of the benchmark's schema. */
export function benchConfig(
  dataApi: RekeyConfigInput['dataApi'],
  paging: { readonly rows?: number | undefined; readonly bytes?: number | undefined } = {},
): RekeyConfigInput {
  return {
    secretTemplate: { encryptionKey: { kind: 'aes-256' } },
    dataKeyField: 'encryptionKey',
    codec: 'rk1',
    storedFields: [{ schema: BENCH_SCHEMA, table: BENCH_TABLE, id: 'id', columns: ['payload'] }],
    dataApi,
    ...(paging.rows === undefined && paging.bytes === undefined
      ? {}
      : { paging: { maxRows: paging.rows ?? 1000, maxBytes: paging.bytes ?? 512 * 1024 } }),
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
  const local = await startLocal({
    engine: options.engine,
    latencyMs: options.latencyMs,
    rotationAttempts: 1,
  });
  const dir = mkdtempSync(join(tmpdir(), 'rekey-bench-steps-'));
  const sm = new SecretsManagerClient({
    endpoint: local.secretsManagerUrl,
    region: 'us-east-1',
    credentials: CREDENTIALS,
  });
  try {
    const config = parseConfig(
      benchConfig(
        { ...local.dataApiTarget, engine: 'postgres' },
        { rows: options.pageRows, bytes: options.pageBytes },
      ),
      'bench config',
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
      const cpu = process.cpuUsage();
      const pgCpu = postgresCpuMs();
      const started = performance.now();
      try {
        await command(event);
      } finally {
        const used = process.cpuUsage(cpu);
        parentSide.set(event.Step, {
          processMs: performance.now() - started,
          dataApi: local.dataApi.stats(),
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
    };
  } finally {
    sm.destroy();
    rmSync(dir, { recursive: true, force: true });
    await local.close();
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
