import { type ChildProcess, spawn } from 'node:child_process';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SqlValue } from '../../lambda/index.js';
import type { PromotionHook } from '../secrets-manager/promotion-hooks.js';
import type { LocalSecretsManager } from '../secrets-manager.js';
import { APP_CONFIG_ENV, type SingleKeyAppConfig } from './config.js';
import type { ReadCounts, ReadOutcome } from './reader.js';

/** Which part of the secret the app's variable gets, as an ECS task definition's `secrets` entry says. */
export interface KeySource {
  /** The variable the app reads its key from (Redash: REDASH_SECRET_KEY). */
  readonly env: string;
  /** The secret's field that holds the key. */
  readonly field: string;
  /**
   * `field`: the variable holds that field alone (ECS `valueFrom: ARN:field::`); `secret`: it holds the
   * whole secret value (ECS `valueFrom: ARN`) and the app picks the field. @default 'field'
   */
  readonly inject?: 'field' | 'secret';
}

/** A single-key app run as a service of processes, the way ECS runs one. */
export interface SingleKeyServiceOptions {
  /** Where each new process's key comes from: GetSecretValue of AWSCURRENT, as ECS fetches it at task start. */
  readonly secretsManager: LocalSecretsManager;
  readonly secretId: string;
  readonly key: KeySource;
  /** What the app reads and how (its configuration, which holds no key). */
  readonly app: Omit<SingleKeyAppConfig, 'keyEnv' | 'keyField'>;
  /** The Data API endpoint the app reads through. */
  readonly dataApiUrl: string;
  /**
   * The app's entry as built JavaScript, run with plain `node` (as a container runs its built code).
   * @default main.ts beside this module, run with this process's loader (tsx) from the sources, or
   * main.js from a build
   */
  readonly entry?: string;
  /** A new process that has not said it is ready by then is killed and the start fails. @default 30000 */
  readonly readyTimeoutMs?: number;
  /** Time for the instances' records. @default Date.now */
  readonly now?: () => number;
}

/** One process of the service, from its spawn to its stop. Ids and times only, never the key. */
export interface AppInstance {
  /** 0 for the first process, then one more per restart. */
  readonly generation: number;
  readonly pid: number;
  /** The secret version whose value the process was started with. */
  readonly versionId: string;
  /** The public id of the key it holds. */
  readonly kid: string;
  readonly spawnedAt: number;
  readonly readyAt: number;
  stoppedAt?: number;
  /** For a restart made by the promotion hook: the version promoted and when the hook began. */
  readonly promotion?: { readonly versionId: string; readonly hookStartedAt: number };
}

/** How one read through the service went, and which process served it. */
export interface ServedRead {
  /** `error`: the request itself failed (no process answering, or the Data API failing under it). */
  readonly outcome: ReadOutcome | 'error';
  readonly generation: number;
  readonly startedAt: number;
  readonly at: number;
}

interface Running {
  readonly instance: AppInstance;
  readonly child: ChildProcess;
  readonly url: string;
}

const STOP_TIMEOUT_MS = 10_000;

/**
 * The single-key app as ECS runs it: processes started with the secret's AWSCURRENT value in their
 * environment, and a restart that rolls like a new deployment (the new process starts and answers
 * before the old one is drained and stopped, so reads never find nobody). `restartHook()` is what the
 * local Secrets Manager runs after a promotion, as the deployed EventBridge rule restarts the ECS
 * services it names.
 */
export class SingleKeyService {
  private running: Running | undefined;
  private readonly history: AppInstance[] = [];
  private restarts: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private secretArn = '';

  private constructor(private readonly options: SingleKeyServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Starts the first process.
   * @throws when the secret has no AWSCURRENT value or the process fails to start (its error's name and
   * message, which name no value).
   */
  static async start(options: SingleKeyServiceOptions): Promise<SingleKeyService> {
    const service = new SingleKeyService(options);
    service.running = await service.launch(undefined);
    return service;
  }

  /** Every process so far, oldest first. */
  instances(): readonly AppInstance[] {
    return [...this.history];
  }

  /** The process serving reads now. */
  current(): AppInstance {
    if (!this.running) throw new Error('the single-key service is stopped');
    return this.running.instance;
  }

  /** Reads one row through the process serving now. */
  async read(table: string, id: SqlValue): Promise<ServedRead> {
    const startedAt = this.now();
    const running = this.running;
    if (!running) return { outcome: 'error', generation: -1, startedAt, at: startedAt };
    const url = `${running.url}/read?table=${encodeURIComponent(table)}&id=${encodeURIComponent(String(id))}`;
    let outcome: ServedRead['outcome'] = 'error';
    try {
      const body = (await (await fetch(url)).json()) as { outcome?: unknown };
      if (body.outcome === 'ok' || body.outcome === 'undecryptable' || body.outcome === 'missing')
        outcome = body.outcome;
    } catch {
      // No answer: counted as an error, not as a read that failed to decrypt.
    }
    return { outcome, generation: running.instance.generation, startedAt, at: this.now() };
  }

  /**
   * Reads every row of a table through the process serving now.
   * @throws Error when the process does not answer with counts.
   */
  async readAll(table: string): Promise<{ rows: number; undecryptable: number; generation: number }> {
    const running = this.running;
    if (!running) throw new Error('the single-key service is stopped');
    const res = await fetch(`${running.url}/read-all?table=${encodeURIComponent(table)}`);
    const body = (await res.json()) as { rows?: unknown; undecryptable?: unknown; error?: unknown };
    if (typeof body.rows !== 'number' || typeof body.undecryptable !== 'number')
      throw new Error(`the app answered read-all with ${res.status} ${String(body.error ?? '')}`);
    return { rows: body.rows, undecryptable: body.undecryptable, generation: running.instance.generation };
  }

  /**
   * What the process serving now says of itself: its key's public id and its reads by outcome.
   * @throws Error when it does not answer.
   */
  async health(): Promise<{ kid: string; counts: ReadCounts; generation: number }> {
    const running = this.running;
    if (!running) throw new Error('the single-key service is stopped');
    const body = (await (await fetch(`${running.url}/health`)).json()) as { kid: string; counts: ReadCounts };
    return { kid: body.kid, counts: body.counts, generation: running.instance.generation };
  }

  /**
   * Rolls the service: a new process with the AWSCURRENT value, then the old one drained and stopped.
   * Restarts run one at a time. When the new process fails to start the old one keeps serving.
   */
  restart(promotion?: AppInstance['promotion']): Promise<AppInstance> {
    const next = this.restarts.then(async () => {
      const previous = this.running;
      if (!previous) throw new Error('the single-key service is stopped');
      const started = await this.launch(promotion);
      this.running = started;
      await stopProcess(previous, this.now);
      return started.instance;
    });
    this.restarts = next.catch(() => {});
    return next;
  }

  /**
   * The promotion hook that restarts this service when its secret's AWSCURRENT moves (promotions of
   * other secrets are not its business). A failed start rejects, so the hooks retry it.
   */
  restartHook(): PromotionHook {
    const hook: PromotionHook = async (event) => {
      if (event.detail.secretArn !== this.secretArn) return;
      await this.restart({ versionId: event.detail.versionId, hookStartedAt: this.now() });
    };
    return hook;
  }

  /** Stops the process serving now; nothing serves after. */
  async stop(): Promise<void> {
    await this.restarts;
    const running = this.running;
    this.running = undefined;
    if (running) await stopProcess(running, this.now);
  }

  private async launch(promotion: AppInstance['promotion']): Promise<Running> {
    const { key, app } = this.options;
    const current = await this.options.secretsManager.call('GetSecretValue', {
      SecretId: this.options.secretId,
      VersionStage: 'AWSCURRENT',
    });
    const secretString = current.SecretString;
    if (typeof secretString !== 'string') throw new Error('the secret has no AWSCURRENT SecretString');
    this.secretArn = String(current.ARN);
    const config: SingleKeyAppConfig = {
      ...app,
      keyEnv: key.env,
      ...((key.inject ?? 'field') === 'secret' ? { keyField: key.field } : {}),
    };
    const keyValue = (key.inject ?? 'field') === 'secret' ? secretString : fieldOf(secretString, key.field);
    const spawnedAt = this.now();
    const args = this.options.entry ? [this.options.entry] : [...process.execArgv, appEntry()];
    const child = spawn(process.execPath, args, {
      env: {
        PATH: process.env.PATH ?? '',
        AWS_ENDPOINT_URL_RDS_DATA: this.options.dataApiUrl,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        [APP_CONFIG_ENV]: JSON.stringify(config),
        [key.env]: keyValue,
      },
      // stdin stays open for the life of the service: its end tells the app to stop, so a crashed
      // service leaves no process behind.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const ready = await waitReady(child, this.options.readyTimeoutMs ?? 30_000);
    const instance: AppInstance = {
      generation: this.history.length,
      pid: child.pid ?? -1,
      versionId: String(current.VersionId),
      kid: ready.kid,
      spawnedAt,
      readyAt: this.now(),
      ...(promotion ? { promotion } : {}),
    };
    this.history.push(instance);
    return { instance, child, url: ready.url };
  }
}

/** The app's entry beside this module: .ts from the sources (run with this process's loader), .js built. */
function appEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./main${extname(self)}`, import.meta.url));
}

/** One field of a JSON secret value, as ECS's `ARN:field::` injects it. */
function fieldOf(secretString: string, field: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new Error(`the secret value is not JSON, so it has no field '${field}'`);
  }
  const value =
    parsed !== null && typeof parsed === 'object' && Object.hasOwn(parsed, field)
      ? (parsed as Record<string, unknown>)[field]
      : undefined;
  if (typeof value !== 'string') throw new Error(`the secret value has no string field '${field}'`);
  return value;
}

/** Resolves with the process's ready line; rejects (and kills it) when it exits or times out first. */
function waitReady(child: ChildProcess, timeoutMs: number): Promise<{ url: string; kid: string }> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the single-key app did not say it was ready within ${timeoutMs} ms`));
    }, timeoutMs);
    lines.on('line', (line) => {
      let message: { ready?: unknown; url?: unknown; kid?: unknown };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        return;
      }
      if (message.ready === true && typeof message.url === 'string') {
        clearTimeout(timer);
        resolve({ url: message.url, kid: String(message.kid) });
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not start the single-key app: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // The app writes its error as one JSON line of name and message; nothing else of it is kept.
      const last = stderr.trim().split('\n').at(-1) ?? '';
      let why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      try {
        const e = JSON.parse(last) as { error?: unknown; message?: unknown };
        if (typeof e.error === 'string') why += `: ${e.error}: ${String(e.message)}`;
      } catch {
        // Not the app's error line: the exit code says enough.
      }
      reject(new Error(`the single-key app ${why}`));
    });
  });
}

/** SIGTERM (the app drains its requests), then SIGKILL if it takes too long. */
async function stopProcess(running: Running, now: () => number): Promise<void> {
  const { child } = running;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  running.instance.stoppedAt = now();
}
