import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import type { DataKey } from '../../lambda/codecs/types.js';
import { parseConfig, type RekeyConfig } from '../../lambda/config.js';
import { type BaseDeps, createDeps } from '../../lambda/deps.js';
import type { Clock, SecretsStore, SqlRunner } from '../../lambda/ports.js';
import { KeyRing } from '../../lambda/reader.js';
import { ROTATION_STEPS, type RotationStep } from '../../lambda/rotation-event.js';
import { rotationFunction } from '../../lambda/rotation-function.js';
import { runStep, runSweep, type StepDeps } from '../../lambda/steps.js';
import {
  type EngineSpec,
  inProcessInvoker,
  type LocalEndpoints,
  type RotationEventRecord,
  startLocal,
} from '../../local/index.js';
import type { Hygiene } from './chaos-hygiene.js';
import {
  type AppEnv,
  AppFleet,
  type AppHabit,
  AppInstance,
  type AppTarget,
  type AppWrite,
} from './chaos-multi-app.js';
import { type HeldClock, VirtualClock } from './chaos-multi-clock.js';
import { engineRunner } from './chaos-sql.js';
import { ChaosWorld, normalizeId } from './chaos-world.js';

const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';
/** The reader contract, scaled down from an hour and five minutes to a second and a fifth. */
export const MULTI_READERS = { maxAgeMs: 1000, marginMs: 200 } as const;
/** How often a running setSecret or testSecret re-checks its stage (the configuration's minimum). */
export const MULTI_STAGE_CHECK_MS = 100;
/** The rings' on-demand reload limit, scaled down with the bound (a minute against an hour). */
const MIN_REFRESH_MS = 20;
/** An operator command's deadline, as the CLI's: no Lambda time limit. */
const OPERATOR_DEADLINE_MS = 24 * 60 * 60_000;
/** How long the test waits (real time) for a rotation, an operator or a gate before it gives up. */
const WAIT_MS = 90_000;

/** Who ran a step. */
export type StepRunner = 'service' | 'resume';

/** One step invocation and how it ended (an error by name and message: rekey errors carry no secret values). */
export interface StepRecord {
  readonly token: string;
  readonly step: RotationStep;
  readonly by: StepRunner;
  readonly error?: { readonly name: string; readonly message: string };
}

/** A statement of one step invocation held until the test lets it go. */
export interface Gate {
  readonly token: string;
  readonly step: RotationStep;
  /** Resolves when the step is about to send the held statement. */
  readonly hit: Promise<void>;
  release(): void;
}

interface ArmedGate extends Gate {
  used: boolean;
  wrap(db: SqlRunner): SqlRunner;
}

/** How an operator command racing a step ended. */
export interface RaceOutcome<T> {
  readonly ok: boolean;
  readonly value?: T;
  readonly error?: unknown;
  /** What the operator's first sleep asked for, when it slept. */
  readonly sleptMs?: number;
}

interface VersionInfo {
  readonly versionId: string;
  /** Each table's data key under this version. Secret: never log. */
  readonly keys: ReadonlyMap<string, DataKey>;
}

/**
 * The multi-rotation scenario's world: local Secrets Manager and Data API over an engine, all on one
 * {@link VirtualClock}; the rotation function behind RotateSecret exactly as test/support/chaos-local.ts
 * wires it (plus a checkpoint after every step and a gate that can hold one statement of a step); the
 * app's instances on their own connection; and the bookkeeping the checks need: every version's keys,
 * when each was AWSCURRENT, every promotion and every step's outcome.
 */
export class MultiRotation {
  readonly fleet = new AppFleet();
  /** Failed checkpoints, read failures and writes under no key: each a broken guarantee. */
  readonly checkFailures: string[] = [];
  /** Writes with a key the ring should no longer have used (see {@link MultiRotation.onWrite}). */
  readonly boundViolations: string[] = [];
  readonly steps: StepRecord[] = [];
  /** Promotions per version id that took effect (AWSCURRENT moved onto it). */
  readonly promotions = new Map<string, number>();
  /** Writes under the version staged AWSPREVIOUS, within the bound: the stragglers the sweep moves. */
  stragglers = 0;
  checkpoints = 0;
  fieldsChecked = 0;
  arn = '';
  /** Steps other than createSecret are refused while set (a rotation tried only to see it refused). */
  probing = false;
  /** Runs before every step, the service's and resume's. */
  beforeStep: (step: RotationStep, token: string, by: StepRunner) => Promise<void> = async () => {};
  readonly base: BaseDeps;
  targets: AppTarget[] = [];
  private readonly versions = new Map<string, VersionInfo>();
  private readonly currentSince = new Map<string, number>();
  private readonly retiredAt = new Map<string, number>();
  private gate: ArmedGate | undefined;

  private constructor(
    readonly clock: VirtualClock,
    readonly local: LocalEndpoints,
    readonly world: ChaosWorld,
    readonly config: RekeyConfig,
    readonly sm: SecretsManagerClient,
    private readonly app: SqlRunner & { close?(): Promise<void> },
    private readonly hygiene: Hygiene,
  ) {
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const deps = createDeps(config, {
      secretsManagerEndpoint: local.secretsManagerUrl,
      dataApiEndpoint: local.dataApiUrl,
      region: 'us-east-1',
      credentials,
      log: hygiene.log(),
    });
    this.base = { ...deps, secrets: this.countingPromotions(deps.secrets), clock: clock.passing };
    local.secretsManager.setInvoker(
      inProcessInvoker((event, context) => this.serviceStep(event, context), { clock }),
    );
  }

  /** Starts the endpoints over `engine` (two attempts per rotation, as the service retries) and the tables. */
  static async start(options: {
    readonly engine: EngineSpec;
    readonly prefix: string;
    readonly hygiene: Hygiene;
    readonly app: (local: LocalEndpoints) => Promise<SqlRunner & { close?(): Promise<void> }>;
    readonly rows: number;
    readonly maxRows: number;
  }): Promise<MultiRotation> {
    const clock = new VirtualClock();
    const local = await startLocal({ engine: options.engine, clock, rotationAttempts: 2 });
    const world = new ChaosWorld(engineRunner(local.engine), options.prefix, {
      rows: options.rows,
      maxRows: options.maxRows,
      only: ['sources', 'redash'],
    });
    const config = parseConfig({
      ...world.config,
      dataApi: { ...local.dataApiTarget, engine: local.engine.dialect },
      readers: MULTI_READERS,
      stageCheckIntervalMs: MULTI_STAGE_CHECK_MS,
    });
    const sm = new SecretsManagerClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      endpoint: local.secretsManagerUrl,
    });
    const app = await options.app(local);
    await world.create();
    return new MultiRotation(clock, local, world, config, sm, app, options.hygiene);
  }

  /** Seeds the tables under `first`, creates the secret holding it, and lists the app's targets. */
  async begin(first: string): Promise<void> {
    this.hygiene.forbidSecret(first);
    await this.world.seed(first);
    const out = await this.call('CreateSecret', { Name: `chaos/multi-${randomUUID()}`, SecretString: first });
    this.arn = out.ARN as string;
    this.currentSince.set(out.VersionId as string, this.clock.now());
    await this.syncVersions();
    this.targets = [];
    for (const t of this.world.tables) {
      const r = await this.app.execute(`SELECT ${t.id} FROM ${t.name} ORDER BY ${t.id}`);
      const ids = r.rows.map((row) => row[0] ?? null);
      this.targets.push({
        table: t.name,
        column: t.columns[0] as string,
        codec: t.codec,
        dataKeyField: t.dataKeyField,
        binary: t.binary,
        ids: [...ids],
        seeded: ids,
        firstInsertId: t.binary ? 100_000 : 9_000_000_000_000,
      });
    }
  }

  /** Loads an app instance (its own rings, now) and starts its loop. */
  async addInstance(name: string, slot: number, habit: AppHabit): Promise<AppInstance> {
    const env: AppEnv = {
      db: this.app,
      client: this.sm,
      secretId: this.arn,
      clock: this.clock.passing,
      maxAgeMs: this.config.readers.maxAgeMs,
      minRefreshIntervalMs: MIN_REFRESH_MS,
      targets: this.targets,
      world: this.world,
      hygiene: this.hygiene,
      onWrite: (w) => this.onWrite(w),
    };
    const instance = await AppInstance.load(name, slot, habit, env);
    this.fleet.add(instance);
    return instance;
  }

  /** RotateSecret with `token` (a new rotation, or the reattempt of a failed one with that token). */
  async startRotation(token: string): Promise<number> {
    const since = this.local.secretsManager.events().length;
    await this.call('RotateSecret', {
      SecretId: this.arn,
      ClientRequestToken: token,
      RotationLambdaARN: LAMBDA,
    });
    return since;
  }

  /** Waits until the service's attempts are over; returns the rotation events since `since`. */
  async settle(since: number, label: string): Promise<RotationEventRecord[]> {
    await within(this.local.secretsManager.idle(), `${label}: the service's rotation ends`);
    return this.local.secretsManager.events().slice(since) as RotationEventRecord[];
  }

  /**
   * Holds the `at.update`-th UPDATE of `at.column` (a page's compare-and-swap write) of the next `step`
   * the service runs for `token`, until released: the step is then mid-pass with pages written under
   * the pending key, and the test can act while it runs.
   */
  armGate(token: string, step: RotationStep, at: { readonly column: string; readonly update: number }): Gate {
    const column = new RegExp(`\\b${at.column}\\b`);
    let hit: () => void = () => {};
    let go: () => void = () => {};
    const hitPromise = new Promise<void>((r) => {
      hit = r;
    });
    const released = new Promise<void>((r) => {
      go = r;
    });
    const gate: ArmedGate = {
      token,
      step,
      hit: hitPromise,
      release: () => go(),
      used: false,
      wrap: (db) => {
        let updates = 0;
        return {
          ...db,
          execute: async (sql, params, options) => {
            if (/^\s*UPDATE\b/i.test(sql) && column.test(sql) && ++updates === at.update) {
              hit();
              await released;
            }
            return db.execute(sql, params, options);
          },
        };
      },
    };
    this.gate = gate;
    return gate;
  }

  /** Waits until the gate holds its statement. @throws when the rotation ended first. */
  async reached(gate: Gate, label: string): Promise<void> {
    const first = await within(
      Promise.race([gate.hit.then(() => true), this.local.secretsManager.idle().then(() => false)]),
      `${label}: ${gate.step} reaches the held statement`,
    );
    if (!first)
      throw new Error(`${label}: the rotation ended before ${gate.step} reached the held statement`);
  }

  /**
   * Runs an operator command (with the CLI's collaborators and a {@link HeldClock}) while the gate
   * holds the service's step, as a person at a terminal would while the Lambda runs. When the command
   * sleeps (abort waiting for running steps to notice it), time moves on by what it asked for, the
   * step is let go and the service's attempts run out, and only then does the command wake: a step
   * that honours the stage-check interval has stopped by then. A command that does not sleep runs to
   * its end while the step is held; then a stage-check interval passes (the command took time) and
   * the step is let go.
   */
  async race<T>(gate: Gate, label: string, command: (deps: StepDeps) => Promise<T>): Promise<RaceOutcome<T>> {
    await this.reached(gate, label);
    await this.checkpoint(`${label}: mid-${gate.step}, before the operator acts`);
    const held: HeldClock = this.clock.held();
    const settled: Promise<RaceOutcome<T>> = command(this.operatorDeps(held.clock)).then(
      (value) => ({ ok: true, value }),
      (error: unknown) => {
        this.hygiene.captureError(error);
        return { ok: false, error };
      },
    );
    const first = await within(
      Promise.race([held.sleeping, settled.then(() => undefined)]),
      `${label}: the operator sleeps or ends`,
    );
    this.clock.advance(first ?? this.config.stageCheckIntervalMs);
    gate.release();
    await within(this.local.secretsManager.idle(), `${label}: the service's rotation ends`);
    held.release();
    const outcome = await within(settled, `${label}: the operator ends`);
    return first === undefined ? outcome : { ...outcome, sleptMs: first };
  }

  /** `rekey resume`: runStep for each step with the same token, in order, as bin/cli/resume.ts does. */
  async resume(token: string, deps: StepDeps): Promise<void> {
    for (const step of ROTATION_STEPS) {
      await this.beforeStep(step, token, 'resume');
      try {
        await runStep({ Step: step, SecretId: this.arn, ClientRequestToken: token }, deps);
        this.steps.push({ token, step, by: 'resume' });
      } catch (error) {
        this.recordFailure(token, step, 'resume', error);
        throw error;
      } finally {
        await this.checkpoint(`after resume's ${step} of ${short(token)}`);
      }
    }
  }

  /** The collaborators an operator command gets, as the CLI builds them. */
  operatorDeps(clock: Clock): StepDeps {
    return { ...this.base, clock, log: this.hygiene.log(), deadline: clock.now() + OPERATOR_DEADLINE_MS };
  }

  /** The scheduled sweep; returns how many stragglers it moved. */
  async sweep(): Promise<number> {
    const report = await runSweep(
      { action: 'sweep', SecretId: this.arn },
      { ...this.base, deadline: this.clock.now() + OPERATOR_DEADLINE_MS },
    );
    return report?.columns.reduce((n, c) => n + c.rewritten, 0) ?? 0;
  }

  /**
   * With the app held between operations: every stored field decrypts, to the plaintext last written,
   * under a version staged as one of `stages`, and no row appeared or vanished (ChaosWorld.assertIntact).
   * A failure is kept in {@link MultiRotation.checkFailures} (a step's checkpoint cannot throw into the
   * service, which would only retry).
   */
  async checkpoint(label: string, stages: readonly string[] = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']) {
    try {
      const checked = await this.fleet.paused(async () => {
        await this.syncVersions();
        const staged: string[] = [];
        for (const stage of stages) {
          const v = await this.valueAt(stage);
          if (v !== undefined) staged.push(v);
        }
        return this.world.assertIntact(staged, label);
      });
      this.checkpoints++;
      this.fieldsChecked += checked;
    } catch (error) {
      this.hygiene.captureError(error);
      this.checkFailures.push((error as Error).message);
    }
  }

  /**
   * Reads every row back through a FRESH key ring per table (loaded now, after the app stopped): each
   * field must be what was last written to it (by an instance, or the seed), and each instance's own
   * log of its last writes must agree.
   * @returns the fields read.
   */
  async readBack(label: string): Promise<number> {
    let read = 0;
    for (const t of this.world.tables) {
      const ring = await KeyRing.load({
        client: this.sm,
        secretId: this.arn,
        codec: t.codec,
        dataKeyField: t.dataKeyField,
      });
      const r = await this.world.db.execute(`SELECT ${[t.id, ...t.columns].join(', ')} FROM ${t.name}`);
      const got = new Map<string, string | null>();
      for (const row of r.rows) {
        const id = normalizeId(row[0] ?? null);
        for (const [c, column] of t.columns.entries()) {
          const v = row[c + 1] ?? null;
          const want = this.world.expected.get(`${t.name}/${column}/${id}`);
          const where = { table: t.name, column };
          const plain =
            v === null ? null : await ring.decryptString(v instanceof Uint8Array ? v : String(v), where);
          assert.ok(plain === want, `${label}: ${t.name}.${column} row ${id} reads back as last written`);
          got.set(`${t.name}/${column}/${id}`, plain);
          if (plain !== null) read++;
        }
      }
      for (const instance of this.fleet.instances) {
        for (const w of instance.lastWritten.values()) {
          if (w.table !== t.name) continue;
          const key = `${t.name}/${w.column}/${normalizeId(w.id)}`;
          assert.ok(
            got.get(key) === w.plaintext,
            `${label}: ${instance.name}'s last write to ${key} is there`,
          );
        }
      }
    }
    return read;
  }

  /** The value staged `stage`, read in process. */
  async valueAt(stage: string): Promise<string | undefined> {
    try {
      return (await this.call('GetSecretValue', { SecretId: this.arn, VersionStage: stage })).SecretString as
        | string
        | undefined;
    } catch {
      return undefined;
    }
  }

  /** Every version's stages, read in process. */
  async stages(): Promise<Record<string, string[]>> {
    return ((await this.call('DescribeSecret', { SecretId: this.arn })).VersionIdsToStages ?? {}) as Record<
      string,
      string[]
    >;
  }

  /** The secret's tags, read in process. */
  async tags(): Promise<Record<string, string>> {
    const tags = ((await this.call('DescribeSecret', { SecretId: this.arn })).Tags ?? []) as {
      Key?: string;
      Value?: string;
    }[];
    return Object.fromEntries(tags.map((t) => [t.Key ?? '', t.Value ?? '']));
  }

  /** When the last promotion the test saw took effect, by the shared clock. */
  lastPromotionAt(): number {
    return Math.max(...this.currentSince.values());
  }

  async close(): Promise<void> {
    await this.fleet.stop();
    await this.world.drop().catch(() => {});
    await this.app.close?.();
    this.sm.destroy();
    await this.local.close();
  }

  /** The rotation function as the Lambda runs it, behind RotateSecret, with a checkpoint after each step. */
  private async serviceStep(
    event: { Step: string; ClientRequestToken: string },
    context: { getRemainingTimeInMillis(): number },
  ): Promise<void> {
    const step = event.Step as RotationStep;
    const token = event.ClientRequestToken;
    await this.beforeStep(step, token, 'service');
    try {
      if (this.probing && step !== 'createSecret') {
        throw new Error(`the test stops a rotation it started only to see it refused, before ${step}`);
      }
      const gate = this.gate;
      let db = this.base.db;
      if (gate && !gate.used && gate.token === token && gate.step === step) {
        gate.used = true;
        db = gate.wrap(db);
      }
      await rotationFunction({ ...this.base, db })(event, context);
      this.steps.push({ token, step, by: 'service' });
    } catch (error) {
      this.hygiene.captureError(error);
      this.recordFailure(token, step, 'service', error);
      throw error;
    } finally {
      await this.checkpoint(`after the service's ${step} of ${short(token)}`);
    }
  }

  private recordFailure(token: string, step: RotationStep, by: StepRunner, error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    this.steps.push({ token, step, by, error: { name: e.name, message: e.message } });
  }

  /**
   * The reader-bound check of every app write: the key must belong to a version that was AWSCURRENT
   * when the ring encrypted, or stopped being so at most `readers.maxAgeMs` before (a ring may hold
   * keys that old, never older). Writes within the bound under the old key are counted as stragglers.
   */
  private onWrite(w: AppWrite): void {
    const version = this.versionOf(w.table, w.column, w.stored);
    if (!version) {
      this.checkFailures.push(`${w.instance} wrote ${w.table}.${w.column} under a key no version holds`);
      return;
    }
    const id = short(version.versionId);
    const since = this.currentSince.get(version.versionId);
    if (since === undefined || since > w.encryptedAt) {
      this.boundViolations.push(
        `${w.instance} encrypted ${w.table} with version ${id} before it was AWSCURRENT`,
      );
      return;
    }
    const retired = this.retiredAt.get(version.versionId);
    if (retired === undefined || retired > w.encryptedAt) return;
    const late = w.encryptedAt - retired;
    if (late > this.config.readers.maxAgeMs) {
      this.boundViolations.push(
        `${w.instance} encrypted ${w.table} with version ${id} ${late} ms after it stopped being AWSCURRENT (bound ${this.config.readers.maxAgeMs} ms)`,
      );
    } else {
      this.stragglers++;
    }
  }

  private versionOf(table: string, column: string, stored: string): VersionInfo | undefined {
    const spec = this.world.tables.find((t) => t.name === table);
    if (!spec) return undefined;
    const all = [...this.versions.values()];
    const keys = all.flatMap((v) => {
      const k = v.keys.get(table);
      return k ? [k] : [];
    });
    const found = codecFor(spec.codec).classify(stored, keys, { table, column });
    if (found.kind !== 'key') return undefined;
    return all.find((v) => v.keys.get(table)?.kid === found.key.kid);
  }

  /** Learns every version that holds a value (and registers it with the hygiene check). */
  private async syncVersions(): Promise<void> {
    const out = await this.call('ListSecretVersionIds', { SecretId: this.arn, IncludeDeprecated: true });
    for (const v of (out.Versions ?? []) as { VersionId?: string }[]) {
      const versionId = v.VersionId;
      if (!versionId || this.versions.has(versionId)) continue;
      let secret: string | undefined;
      try {
        secret = (await this.call('GetSecretValue', { SecretId: this.arn, VersionId: versionId }))
          .SecretString as string | undefined;
      } catch {
        secret = undefined; // a version registered by RotateSecret before createSecret gave it a value
      }
      if (secret === undefined) continue;
      this.hygiene.forbidSecret(secret);
      const keys = new Map<string, DataKey>();
      for (const t of this.world.tables)
        keys.set(t.name, dataKeyFromSecretString(secret, t.dataKeyField, t.codec));
      this.versions.set(versionId, { versionId, keys });
    }
  }

  /** The store, noting every move of AWSCURRENT that took effect (the promotion's time, the old version's retirement). */
  private countingPromotions(inner: SecretsStore): SecretsStore {
    return {
      ...inner,
      moveStage: async (secretId, stage, move) => {
        const before = stage === 'AWSCURRENT' ? await this.currentVersionId() : undefined;
        await inner.moveStage(secretId, stage, move);
        if (stage !== 'AWSCURRENT' || !move.toVersionId) return;
        const after = await this.currentVersionId();
        if (after !== move.toVersionId || before === after) return;
        const now = this.clock.now();
        this.promotions.set(after, (this.promotions.get(after) ?? 0) + 1);
        this.currentSince.set(after, now);
        if (before) this.retiredAt.set(before, now);
      },
    };
  }

  private async currentVersionId(): Promise<string | undefined> {
    return Object.entries(await this.stages()).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
  }

  private call(op: string, body: unknown): Promise<Record<string, unknown>> {
    return this.local.secretsManager.call(op, body);
  }
}

/** The first 8 characters of a version id, for labels. */
export function short(versionId: string): string {
  return versionId.slice(0, 8);
}

/**
 * `promise`, or an Error naming `label` after {@link WAIT_MS} of real time: a safety net so a broken
 * race fails the test instead of hanging it (nothing waits on this timer for its own sake).
 */
export async function within<T>(promise: Promise<T>, label: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: still waiting after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
