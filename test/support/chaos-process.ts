import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { RekeyConfig } from '../../lambda/config.js';
import { closeServer, listen } from '../../local/http.js';
import {
  createEngine,
  type Database,
  type EngineSpec,
  LOCAL_CLUSTER_ARN,
  LOCAL_DB_SECRET_ARN,
  LocalDataApi,
  LocalSecretsManager,
  type RotationInvocation,
} from '../../local/index.js';
import type { Hygiene } from './chaos-hygiene.js';

const ENTRY = fileURLToPath(new URL('./chaos-step-entry.ts', import.meta.url));

/**
 * Bundles the step entry (lambda/handler.ts inside) as the Lambda is bundled: ESM, Node target,
 * nothing external, so a step process starts with plain node and no transpiler.
 * @returns the bundle's path.
 */
export async function bundleStepProcess(dir: string): Promise<string> {
  const outfile = join(dir, 'chaos-step.mjs');
  await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return outfile;
}

/**
 * Local Secrets Manager and Data API whose rotation function is a real process per step (the bundled
 * Lambda handler), with a hand on the process: every HTTP request the step makes to either endpoint
 * is numbered, and when request number `killAt` arrives the step process is SIGKILLed right then, with
 * that call in flight (it may or may not take effect, as in a real crash). Before the failed step is
 * reported to the service, `onKilled` runs once every in-flight call has finished (to check the
 * stored fields at the moment of the crash). The service then retries with the same token.
 */
export class KillHarness {
  /** Requests the step processes made, both endpoints together. */
  requests = 0;
  /** Processes killed. */
  kills = 0;
  /** Times AWSCURRENT moved onto a rotation's token (checked after each Secrets Manager request). */
  promotions = 0;
  killAt = 0;
  onKilled: (() => Promise<void>) | undefined;
  private child: ChildProcess | undefined;
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private servers: Server[] = [];

  private constructor(
    readonly secretsManager: LocalSecretsManager,
    readonly dataApi: LocalDataApi,
    readonly engine: Database,
    private readonly ownsEngine: boolean,
    private readonly hygiene: Hygiene,
  ) {}

  /** The URLs, set by {@link KillHarness.start}. */
  secretsManagerUrl = '';
  dataApiUrl = '';
  database = 'postgres';

  /** Starts both endpoints on loopback over `engine`, running `bundle` once per step. */
  static async start(engineSpec: EngineSpec, bundle: string, hygiene: Hygiene): Promise<KillHarness> {
    const engine = await createEngine(engineSpec);
    const secretsManager = new LocalSecretsManager({ rotationAttempts: 2 });
    const h = new KillHarness(secretsManager, new LocalDataApi({ engine }), engine, true, hygiene);
    if (typeof engineSpec === 'object' && 'postgresUrl' in engineSpec)
      h.database = new URL(engineSpec.postgresUrl).pathname.slice(1);
    if (typeof engineSpec === 'object' && 'mysqlUrl' in engineSpec)
      h.database = new URL(engineSpec.mysqlUrl).pathname.slice(1);
    const sm = createServer(h.wrap(secretsManager.handler, true));
    const data = createServer(h.wrap(h.dataApi.handler, false));
    h.servers = [sm, data];
    h.secretsManagerUrl = await listen(sm, 0, '127.0.0.1');
    h.dataApiUrl = await listen(data, 0, '127.0.0.1');
    secretsManager.setInvoker((event) => h.invoke(event, bundle));
    return h;
  }

  /** Where the step processes' configuration sends SQL: the local Data API over this engine. */
  get dataApiTarget(): RekeyConfig['dataApi'] {
    return {
      resourceArn: LOCAL_CLUSTER_ARN,
      secretArn: LOCAL_DB_SECRET_ARN,
      database: this.database,
      engine: this.engine.dialect,
    };
  }

  /** The configuration the step processes get in REKEY_CONFIG. */
  config: RekeyConfig | undefined;
  /** Errors of `onKilled` checks (the service only sees a failed step). */
  readonly checkFailures: unknown[] = [];

  /** Stops the servers, the service's rotations and the engine. */
  async close(): Promise<void> {
    this.secretsManager.stop();
    this.child?.kill('SIGKILL');
    await this.dataApi.close();
    await Promise.all(this.servers.map((s) => closeServer(s)));
    if (this.ownsEngine) await this.engine.close();
  }

  /** The value staged `stage` now, read in process (not counted as a request). */
  async valueAt(secretId: string, stage: string): Promise<string | undefined> {
    try {
      const out = await this.secretsManager.call('GetSecretValue', {
        SecretId: secretId,
        VersionStage: stage,
      });
      return out.SecretString as string | undefined;
    } catch {
      return undefined;
    }
  }

  /** The stages of every version, read in process. */
  async stages(secretId: string): Promise<Record<string, string[]>> {
    const out = await this.secretsManager.call('DescribeSecret', { SecretId: secretId });
    return (out.VersionIdsToStages ?? {}) as Record<string, string[]>;
  }

  private tokenOf: { secretId: string; token: string } | undefined;

  /** Which rotation's promotions to count. */
  watch(secretId: string, token: string): void {
    this.tokenOf = { secretId, token };
  }

  private wrap(
    inner: (req: IncomingMessage, res: ServerResponse) => void,
    secrets: boolean,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      this.requests++;
      this.inflight++;
      const watched = this.tokenOf;
      const wasCurrent = secrets && watched ? this.isCurrent(watched) : Promise.resolve(false);
      res.on('close', () => {
        void (async () => {
          if (secrets && watched && !(await wasCurrent) && (await this.isCurrent(watched))) this.promotions++;
          if (--this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
        })();
      });
      if (this.requests === this.killAt && this.child) {
        this.child.kill('SIGKILL');
        this.kills++;
      }
      inner(req, res);
    };
  }

  private async isCurrent(w: { secretId: string; token: string }): Promise<boolean> {
    return (await this.stages(w.secretId))[w.token]?.includes('AWSCURRENT') ?? false;
  }

  private settled(): Promise<void> {
    return this.inflight === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  private invoke(event: RotationInvocation, bundle: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [bundle], {
        env: {
          PATH: process.env.PATH,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: this.secretsManagerUrl,
          AWS_ENDPOINT_URL_RDS_DATA: this.dataApiUrl,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          REKEY_CONFIG: JSON.stringify(this.config),
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      this.child = child;
      child.stdout?.on('data', (d: Buffer) => this.hygiene.capture(d.toString()));
      child.stderr?.on('data', (d: Buffer) => this.hygiene.capture(d.toString()));
      child.stdin?.on('error', () => {});
      child.stdin?.end(JSON.stringify(event));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        this.child = undefined;
        if (code === 0) {
          resolve();
          return;
        }
        const failed = new Error(`step ${event.Step} ${signal ? `killed by ${signal}` : `exited ${code}`}`);
        if (signal !== 'SIGKILL' || !this.onKilled) {
          reject(failed);
          return;
        }
        const check = this.onKilled;
        this.settled()
          .then(() => check())
          .catch((error: unknown) => {
            this.checkFailures.push(error);
          })
          .finally(() => reject(failed));
      });
    });
  }
}
