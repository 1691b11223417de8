import { randomBytes, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Sleep } from '../clock.js';
import { invalidParameter, invalidRequest } from './errors.js';
import { hasValue, type OperationContext } from './operations.js';
import type { rotateSecretRequest, secretIdRequest } from './requests.js';
import { nextRotationDate, validateRotationRules } from './schedule.js';
import {
  AWSCURRENT,
  AWSPENDING,
  attachStage,
  findVersion,
  unfinishedPending,
  versionWithStage,
} from './stages.js';
import {
  ROTATION_STEPS,
  type RotationEventRecord,
  type RotationInvoker,
  type RotationRecord,
  type SecretRecord,
} from './types.js';

/** How rotations run. */
export interface RotationOptions {
  /** The rotation function; without one, rotations fail at their first step. */
  readonly invoker?: RotationInvoker | undefined;
  /** Attempts per rotation (the first and its retries), all with the same token. @default 3 */
  readonly attempts?: number;
  /** Pause between attempts. @default 0 */
  readonly retryDelayMs?: number;
  readonly sleep: Sleep;
}

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$/;

/**
 * RotateSecret and CancelRotateSecret, and the runner behind them: it calls the rotation function for
 * createSecret, setSecret, testSecret and finishSecret in order, retries a failed rotation from the
 * start with the same token, and stops as soon as the rotation is abandoned, cancelled or deleted.
 */
export class RotationRunner {
  private invoker: RotationInvoker | undefined;
  private readonly running = new Map<string, Promise<void>>();
  private readonly attempts: number;
  private stopped = false;
  /** resumeInterrupted was asked for before there was a rotation function to resume with. */
  private resumeOnInvoker = false;

  constructor(
    private readonly ctx: OperationContext,
    private readonly options: RotationOptions,
  ) {
    this.invoker = options.invoker;
    this.attempts = options.attempts ?? 3;
    if (!Number.isInteger(this.attempts) || this.attempts < 1) {
      throw new RangeError(`rotation attempts must be a positive integer, got ${this.attempts}`);
    }
  }

  /**
   * Replaces the rotation function (for callers that can only build it once the endpoints are up). A
   * resume asked for while there was none starts now.
   */
  setInvoker(invoker: RotationInvoker | undefined): void {
    this.invoker = invoker;
    if (invoker && this.resumeOnInvoker) {
      this.resumeOnInvoker = false;
      this.resumeInterrupted();
    }
  }

  /**
   * RotateSecret: stores the rotation settings, registers the token as an empty AWSPENDING version and
   * starts the rotation in the background (or, with RotateImmediately=false, only tests the function).
   * @throws SecretsManagerError InvalidRequestException while an earlier rotation is unfinished (which
   * is then reattempted) or when no rotation function is configured; InvalidParameterException.
   */
  rotate(input: z.infer<typeof rotateSecretRequest>): Record<string, unknown> {
    const now = this.ctx.clock.now();
    const secret = this.ctx.store.requireLive(input.SecretId, now);
    const rules = input.RotationRules ? validateRotationRules(input.RotationRules) : secret.rotationRules;
    const lambdaArn = input.RotationLambdaARN ?? secret.rotationLambdaArn;
    if (input.RotationLambdaARN !== undefined && !LAMBDA_ARN.test(input.RotationLambdaARN)) {
      throw invalidParameter(`RotationLambdaARN is not a Lambda function ARN: ${input.RotationLambdaARN}`);
    }
    if (!lambdaArn) throw invalidRequest('No Lambda rotation function ARN is associated with this secret.');
    const token = input.ClientRequestToken ?? randomUUID();
    const answer = { ARN: secret.arn, Name: secret.name, VersionId: token };

    const pending = unfinishedPending(secret);
    if (pending) {
      // A retried RotateSecret (same token) is not a new rotation.
      if (pending.versionId === token && this.running.has(secret.arn)) return answer;
      this.reattempt(secret, pending.versionId);
      if (pending.versionId === token) return answer;
      throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");
    }
    if (findVersion(secret, token)) {
      throw invalidRequest(`A version with ClientRequestToken ${token} already exists; use a new token.`);
    }

    secret.rotationEnabled = true;
    secret.rotationLambdaArn = lambdaArn;
    if (rules) {
      secret.rotationRules = rules;
      secret.nextRotationDate = nextRotationDate(rules, secret.lastRotatedDate ?? now);
    }
    secret.lastChangedDate = now;
    const immediately = input.RotateImmediately ?? true;
    const current = versionWithStage(secret, AWSCURRENT);
    if (!immediately && (!current || !hasValue(current))) {
      throw invalidRequest('The secret has no AWSCURRENT value to test the rotation function with.');
    }
    const version = {
      versionId: token,
      stages: [] as string[],
      createdDate: now,
      // The configuration test runs testSecret on a temporary version that carries the current value.
      ...(immediately || !current
        ? {}
        : {
            ...(current.secretString === undefined ? {} : { secretString: current.secretString }),
            ...(current.secretBinary === undefined ? {} : { secretBinary: current.secretBinary }),
          }),
    };
    secret.versions.push(version);
    attachStage(secret, version, AWSPENDING);
    secret.rotation = newRotation(token, immediately ? 'rotate' : 'test', now);
    this.ctx.store.save();
    this.start(secret.arn, secret.rotation);
    return answer;
  }

  /**
   * CancelRotateSecret: turns rotation off and stops a rotation under way. Its AWSPENDING version stays,
   * as on the service, for the caller to inspect and clean up.
   */
  cancel(input: z.infer<typeof secretIdRequest>): Record<string, unknown> {
    const now = this.ctx.clock.now();
    const secret = this.ctx.store.requireLive(input.SecretId, now);
    const pending = unfinishedPending(secret);
    secret.rotationEnabled = false;
    delete secret.nextRotationDate;
    delete secret.rotation;
    secret.lastChangedDate = now;
    this.ctx.store.save();
    return { ARN: secret.arn, Name: secret.name, ...(pending ? { VersionId: pending.versionId } : {}) };
  }

  /** Resolves once no rotation is running (including retries). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Restarts rotations that a previous process left running (read from the state file) and returns
   * their ARNs. Without a rotation function they would only fail, so they wait, still running in the
   * state file, and start when `setInvoker` gives one.
   */
  resumeInterrupted(): string[] {
    const interrupted = this.ctx.store
      .all()
      .filter(
        (secret) =>
          secret.rotation?.state === 'running' &&
          !this.running.has(secret.arn) &&
          secret.deletedDate === undefined,
      );
    if (!this.invoker) {
      this.resumeOnInvoker = true;
      return interrupted.map((s) => s.arn);
    }
    for (const secret of interrupted) if (secret.rotation) this.start(secret.arn, secret.rotation);
    return interrupted.map((s) => s.arn);
  }

  /**
   * Closes a recorded rotation (running or failed) whose version became AWSCURRENT by a call from
   * outside this runner, as when `rekey resume` drives the steps in its own process and promotes with
   * UpdateSecretVersionStage: LastRotatedDate, the next scheduled date and RotationSucceeded, as the
   * service shows a completed rotation. A rotation this runner is running is closed by the runner.
   * @param operation the call that moved AWSCURRENT, for the event's reason.
   * @returns whether it closed one.
   */
  completeIfPromoted(secretId: string, operation: string): boolean {
    const secret = this.ctx.store.find(secretId);
    const rotation = secret?.rotation;
    if (!secret || !rotation || rotation.mode !== 'rotate' || this.running.has(secret.arn)) return false;
    if (!findVersion(secret, rotation.token)?.stages.includes(AWSCURRENT)) return false;
    this.complete(secret, rotation, `the pending version was made AWSCURRENT by ${operation}`);
    return true;
  }

  /** Starts the scheduled rotations that are due by the clock; returns the secrets' ARNs. */
  runDue(): string[] {
    const now = this.ctx.clock.now();
    const due = this.ctx.store
      .all()
      .filter(
        (s) =>
          s.rotationEnabled &&
          s.deletedDate === undefined &&
          s.nextRotationDate !== undefined &&
          s.nextRotationDate <= now &&
          !this.running.has(s.arn) &&
          !unfinishedPending(s),
      );
    for (const secret of due) this.rotate({ SecretId: secret.arn });
    return due.map((s) => s.arn);
  }

  /** Stops starting new steps (on shutdown); rotations in flight stop after their current step. */
  stop(): void {
    this.stopped = true;
  }

  private reattempt(secret: SecretRecord, token: string): void {
    if (this.running.has(secret.arn) || !secret.rotationLambdaArn) return;
    const previous = secret.rotation?.token === token ? secret.rotation : undefined;
    secret.rotation = previous
      ? { ...previous, attempt: 0, state: 'running' }
      : newRotation(token, 'rotate', this.ctx.clock.now());
    this.ctx.store.save();
    this.start(secret.arn, secret.rotation);
  }

  private start(arn: string, rotation: RotationRecord): void {
    const run = (
      rotation.mode === 'test' ? this.runTest(arn, rotation) : this.runRotation(arn, rotation)
    ).finally(() => this.running.delete(arn));
    this.running.set(arn, run);
  }

  private async runRotation(arn: string, rotation: RotationRecord): Promise<void> {
    while (this.active(arn, rotation)) {
      rotation.attempt++;
      // Recording saves the state file, attempt count included.
      this.record(arn, rotation, { type: 'RotationStarted', attempt: rotation.attempt });
      let step: string = ROTATION_STEPS[0];
      try {
        for (step of ROTATION_STEPS) {
          if (!this.active(arn, rotation)) return;
          await this.invoke(arn, rotation, step);
        }
        const secret = this.secret(arn);
        if (!secret || !this.active(arn, rotation)) return;
        if (!findVersion(secret, rotation.token)?.stages.includes(AWSCURRENT)) {
          throw new Error(`finishSecret returned but version ${rotation.token} is not AWSCURRENT`);
        }
        this.complete(secret, rotation);
        return;
      } catch (error) {
        if (!this.active(arn, rotation)) return;
        if (rotation.attempt >= this.attempts) {
          rotation.state = 'failed';
          this.record(arn, rotation, {
            type: 'RotationFailed',
            attempt: rotation.attempt,
            step,
            error: describe(error),
          });
          return;
        }
        await this.options.sleep(this.options.retryDelayMs ?? 0);
      }
    }
  }

  private async runTest(arn: string, rotation: RotationRecord): Promise<void> {
    try {
      if (this.active(arn, rotation)) await this.invoke(arn, rotation, 'testSecret');
    } catch (error) {
      this.record(arn, rotation, {
        type: 'RotationFailed',
        step: 'testSecret',
        error: describe(error),
        reason: 'configuration test (RotateImmediately=false)',
      });
    } finally {
      const secret = this.secret(arn);
      if (secret) {
        // The temporary version goes away; only its own labels go with it.
        secret.versions = secret.versions.filter(
          (v) => v.versionId !== rotation.token || v.stages.includes(AWSCURRENT),
        );
        if (secret.rotation?.token === rotation.token) delete secret.rotation;
        this.ctx.store.save();
      }
    }
  }

  private async invoke(arn: string, rotation: RotationRecord, step: string): Promise<void> {
    if (!this.invoker) throw new Error('the local Secrets Manager has no rotation function to invoke');
    await this.invoker({
      Step: step,
      SecretId: arn,
      ClientRequestToken: rotation.token,
      RotationToken: rotation.rotationToken,
    });
  }

  /** Whether this rotation should go on: not stopped, cancelled, abandoned, or deleted. */
  private active(arn: string, rotation: RotationRecord): boolean {
    const secret = this.secret(arn);
    if (this.stopped || !secret || secret.deletedDate !== undefined) return false;
    if (secret.rotation !== rotation || rotation.state !== 'running') return false;
    const version = findVersion(secret, rotation.token);
    return (
      version !== undefined && (version.stages.includes(AWSPENDING) || version.stages.includes(AWSCURRENT))
    );
  }

  /** Ends a rotation whose version is AWSCURRENT: dates, the record gone, RotationSucceeded (saved). */
  private complete(secret: SecretRecord, rotation: RotationRecord, reason?: string): void {
    const now = this.ctx.clock.now();
    secret.lastRotatedDate = now;
    if (secret.rotationRules) secret.nextRotationDate = nextRotationDate(secret.rotationRules, now);
    delete secret.rotation;
    this.record(secret.arn, rotation, {
      type: 'RotationSucceeded',
      ...(rotation.attempt > 0 ? { attempt: rotation.attempt } : {}),
      ...(reason ? { reason } : {}),
    });
  }

  private secret(arn: string): SecretRecord | undefined {
    return this.ctx.store.find(arn);
  }

  private record(
    arn: string,
    rotation: RotationRecord,
    event: Omit<RotationEventRecord, 'secretArn' | 'secretName' | 'versionId' | 'at'>,
  ): void {
    this.ctx.store.record({
      ...event,
      secretArn: arn,
      secretName: this.secret(arn)?.name ?? arn,
      versionId: rotation.token,
      at: this.ctx.clock.now(),
    });
  }
}

function newRotation(token: string, mode: RotationRecord['mode'], now: number): RotationRecord {
  return {
    token,
    rotationToken: randomBytes(24).toString('base64url'),
    mode,
    attempt: 0,
    state: 'running',
    startedAt: now,
  };
}

/** An error's name and message for the log (rotation errors carry no secret values by convention). */
function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}
