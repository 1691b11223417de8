import { createServer } from 'node:http';
import { type LocalClock, realSleep, type Sleep, systemClock } from './clock.js';
import { closeServer, listen } from './http.js';
import { SecretsManagerError } from './secrets-manager/errors.js';
import { createSecretsManagerHandler } from './secrets-manager/http.js';
import { listSecrets } from './secrets-manager/list-secrets.js';
import {
  createSecret,
  deleteSecret,
  describeSecret,
  getSecretValue,
  listSecretVersionIds,
  type OperationContext,
  putSecretValue,
  restoreSecret,
  tagResource,
  untagResource,
  updateSecretVersionStage,
} from './secrets-manager/operations.js';
import { randomPassword } from './secrets-manager/password.js';
import {
  type PromotionHook,
  type PromotionHookReport,
  type PromotionHookRetry,
  PromotionHooks,
} from './secrets-manager/promotion-hooks.js';
import {
  createSecretRequest,
  deleteSecretRequest,
  getSecretValueRequest,
  listSecretsRequest,
  listVersionsRequest,
  parseRequest,
  putSecretValueRequest,
  randomPasswordRequest,
  rotateSecretRequest,
  secretIdRequest,
  tagResourceRequest,
  untagResourceRequest,
  updateStageRequest,
} from './secrets-manager/requests.js';
import { RotationRunner } from './secrets-manager/rotation.js';
import { AWSCURRENT, versionWithStage } from './secrets-manager/stages.js';
import { SecretStore } from './secrets-manager/store.js';
import type { RotationEventRecord, RotationInvoker } from './secrets-manager/types.js';

/** How the local Secrets Manager behaves. */
export interface SecretsManagerOptions {
  /** The rotation function RotateSecret invokes. @default none: rotations fail until one is set */
  readonly invoker?: RotationInvoker;
  /** A JSON file to keep state in across processes (it holds secret values). @default in memory */
  readonly stateFile?: string;
  /** Time for dates, schedules and the event log. @default the system clock */
  readonly clock?: LocalClock;
  /** How the pause between rotation attempts is waited out. @default a timer */
  readonly sleep?: Sleep;
  /** Attempts per rotation, all with the same ClientRequestToken. @default 3 */
  readonly rotationAttempts?: number;
  /** Pause between rotation attempts. @default 0 */
  readonly retryDelayMs?: number;
  /**
   * Restart rotations the state file shows as running when a previous process stopped; without an
   * invoker they start once `setInvoker` gives one. @default false
   */
  readonly resumeInterrupted?: boolean;
  /**
   * Run after each promotion (AWSCURRENT moved to another version, by UpdateSecretVersionStage or
   * PutSecretValue), outside the request; more can be added with `onPromotion`. @default none
   */
  readonly promotionHooks?: readonly PromotionHook[];
  /** Retries of a failed promotion hook (pauses use `sleep`). @default 3 attempts, 1 s then 2 s apart */
  readonly promotionHookRetry?: PromotionHookRetry;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
}

/** The local Secrets Manager: its operations, the rotation runner, the event log and the HTTP handler. */
export class LocalSecretsManager {
  /** The node:http request listener speaking the JSON 1.1 protocol. */
  readonly handler: ReturnType<typeof createSecretsManagerHandler>;
  private readonly ctx: OperationContext;
  private readonly rotations: RotationRunner;
  private readonly promotions: PromotionHooks;

  /** @throws Error when the state file exists but cannot be read. */
  constructor(options: SecretsManagerOptions = {}) {
    this.ctx = {
      store: new SecretStore(options.stateFile),
      clock: options.clock ?? systemClock,
      region: options.region ?? 'us-east-1',
      account: options.accountId ?? '000000000000',
    };
    this.rotations = new RotationRunner(this.ctx, {
      invoker: options.invoker,
      sleep: options.sleep ?? realSleep,
      ...(options.rotationAttempts === undefined ? {} : { attempts: options.rotationAttempts }),
      ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
    });
    this.promotions = new PromotionHooks(
      this.ctx.clock,
      options.sleep ?? realSleep,
      options.promotionHookRetry,
    );
    for (const hook of options.promotionHooks ?? []) this.promotions.add(hook);
    this.handler = createSecretsManagerHandler((operation, body) => this.call(operation, body));
    if (options.resumeInterrupted) this.rotations.resumeInterrupted();
  }

  /**
   * Runs an operation by its wire name on a wire-shaped input, exactly as over HTTP.
   * @throws SecretsManagerError as the service would answer.
   */
  async call(operation: string, body: unknown): Promise<Record<string, unknown>> {
    const ctx = this.ctx;
    switch (operation) {
      case 'CreateSecret':
        return createSecret(ctx, parseRequest(createSecretRequest, body));
      case 'DescribeSecret':
        return describeSecret(ctx, parseRequest(secretIdRequest, body));
      case 'GetSecretValue':
        return getSecretValue(ctx, parseRequest(getSecretValueRequest, body));
      case 'PutSecretValue': {
        const input = parseRequest(putSecretValueRequest, body);
        return this.promoting(input.SecretId, () => {
          const out = putSecretValue(ctx, input);
          this.rotations.completeIfPromoted(input.SecretId, operation);
          return out;
        });
      }
      case 'UpdateSecretVersionStage': {
        const input = parseRequest(updateStageRequest, body);
        return this.promoting(input.SecretId, () => {
          const out = updateSecretVersionStage(ctx, input);
          // A rotation finished from outside (`rekey resume` promoting) ends as the service shows it.
          this.rotations.completeIfPromoted(input.SecretId, operation);
          return out;
        });
      }
      case 'ListSecrets':
        return listSecrets(ctx, parseRequest(listSecretsRequest, body));
      case 'ListSecretVersionIds':
        return listSecretVersionIds(ctx, parseRequest(listVersionsRequest, body));
      case 'TagResource':
        return tagResource(ctx, parseRequest(tagResourceRequest, body));
      case 'UntagResource':
        return untagResource(ctx, parseRequest(untagResourceRequest, body));
      case 'RotateSecret':
        return this.rotations.rotate(parseRequest(rotateSecretRequest, body));
      case 'CancelRotateSecret':
        return this.rotations.cancel(parseRequest(secretIdRequest, body));
      case 'GetRandomPassword':
        return { RandomPassword: randomPassword(parseRequest(randomPasswordRequest, body)) };
      case 'DeleteSecret':
        return deleteSecret(ctx, parseRequest(deleteSecretRequest, body));
      case 'RestoreSecret':
        return restoreSecret(ctx, parseRequest(secretIdRequest, body));
      default:
        throw new SecretsManagerError(
          'UnknownOperationException',
          `Operation ${operation} is not supported locally`,
        );
    }
  }

  /** Sets or replaces the rotation function; interrupted rotations waiting for one start now. */
  setInvoker(invoker: RotationInvoker | undefined): void {
    this.rotations.setInvoker(invoker);
  }

  /** Resolves when no rotation is running: RotateSecret returns at once, this waits for the steps. */
  idle(): Promise<void> {
    return this.rotations.idle();
  }

  /** The rotation log (RotationStarted, RotationSucceeded, RotationFailed, RotationAbandoned), oldest first. */
  events(): readonly RotationEventRecord[] {
    return this.ctx.store.events();
  }

  /** Calls `listener` for each rotation event from now on; returns the function that stops it. */
  onEvent(listener: (event: RotationEventRecord) => void): () => void {
    return this.ctx.store.subscribe(listener);
  }

  /** Starts the scheduled rotations due by the clock (the service's scheduler); returns their ARNs. */
  runDueRotations(): string[] {
    return this.rotations.runDue();
  }

  /**
   * Restarts rotations a previous process left running; returns their ARNs. Without a rotation
   * function they wait for `setInvoker` instead of failing at once.
   */
  resumeInterrupted(): string[] {
    return this.rotations.resumeInterrupted();
  }

  /**
   * Registers a hook run after every promotion from now on (once per promotion, outside the request,
   * retried on failure); returns the function that removes it. @param name shown in reports
   */
  onPromotion(hook: PromotionHook, name?: string): () => void {
    return this.promotions.add(hook, name);
  }

  /** Resolves once every promotion hook queued so far has finished or run out of attempts. */
  promotionHooksIdle(): Promise<void> {
    return this.promotions.idle();
  }

  /** Each promotion hook attempt's outcome, oldest first. */
  promotionHookReports(): readonly PromotionHookReport[] {
    return this.promotions.reports();
  }

  /** Calls `listener` for each promotion hook report from now on; returns the function that stops it. */
  onPromotionHookReport(listener: (report: PromotionHookReport) => void): () => void {
    return this.promotions.onReport(listener);
  }

  /** Stops starting rotation steps and promotion hooks; a step or hook in flight finishes, nothing follows it. */
  stop(): void {
    this.rotations.stop();
    this.promotions.stop();
  }

  /**
   * Runs a call that can move AWSCURRENT and, when it did, queues the promotion hooks: whoever moved it
   * (finishSecret, `rekey resume`, an operator, a PutSecretValue without VersionStages), as the
   * service's "Secret Label Updated" event that the deployed wiring listens to covers them all.
   */
  private promoting(secretId: string, call: () => Record<string, unknown>): Record<string, unknown> {
    const before = this.currentVersion(secretId);
    const out = call();
    const after = this.currentVersion(secretId);
    if (after && after.versionId !== before?.versionId) this.promotions.promoted(after.arn, after.versionId);
    return out;
  }

  private currentVersion(secretId: string): { arn: string; versionId: string } | undefined {
    const secret = this.ctx.store.find(secretId);
    const current = secret && versionWithStage(secret, AWSCURRENT);
    return secret && current ? { arn: secret.arn, versionId: current.versionId } : undefined;
  }
}

/** A running standalone Secrets Manager endpoint. */
export interface RunningSecretsManager {
  readonly url: string;
  readonly secretsManager: LocalSecretsManager;
  /** Stops the server and further rotation steps. */
  close(): Promise<void>;
}

/**
 * Starts the Secrets Manager alone on its own port.
 * @throws the listen error, or an unreadable state file.
 */
export async function startSecretsManager(
  options: SecretsManagerOptions & { readonly port?: number; readonly host?: string } = {},
): Promise<RunningSecretsManager> {
  const secretsManager = new LocalSecretsManager(options);
  const server = createServer(secretsManager.handler);
  const url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return {
    url,
    secretsManager,
    async close() {
      secretsManager.stop();
      await closeServer(server);
    },
  };
}
