import { randomUUID } from 'node:crypto';
import type {
  SecretDescription,
  SecretsStore,
  SecretValue,
  SecretVersionListing,
} from '../../lambda/ports.js';

/** A version held by the in-memory store. */
interface Version {
  readonly versionId: string;
  readonly secretString: string | undefined;
  stages: string[];
  readonly createdDate: number;
}

/**
 * An in-memory secrets store with the staging-label rules of Secrets Manager (one version per label,
 * AWSPREVIOUS following AWSCURRENT), for unit tests of the steps. It counts calls per operation.
 */
export class MemorySecrets implements SecretsStore {
  readonly versions: Version[] = [];
  readonly calls: Record<string, number> = {};
  rotationEnabled: boolean | undefined = true;
  readonly tags: Record<string, string> = {};
  /** Time for versions' CreatedDate; the epoch by default, so a rotation's reader bound is long past. */
  now: () => number = () => 0;

  constructor(readonly arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf') {}

  /** Adds a version as the service would (PutSecretValue); returns its id. */
  add(secretString: string | undefined, stages: string[], versionId: string = randomUUID()): string {
    const oldCurrent = this.versions.find((v) => v.stages.includes('AWSCURRENT'));
    for (const stage of stages) this.take(stage);
    if (stages.includes('AWSCURRENT') && oldCurrent) {
      this.take('AWSPREVIOUS');
      oldCurrent.stages.push('AWSPREVIOUS');
    }
    this.versions.push({ versionId, secretString, stages: [...stages], createdDate: this.now() });
    return versionId;
  }

  stagesOf(versionId: string): string[] {
    return this.versions.find((v) => v.versionId === versionId)?.stages ?? [];
  }

  valueAt(stage: string): string | undefined {
    return this.versions.find((v) => v.stages.includes(stage))?.secretString;
  }

  async describe(secretId: string): Promise<SecretDescription> {
    this.count('describe');
    this.check(secretId);
    return {
      arn: this.arn,
      name: 'app',
      rotationEnabled: this.rotationEnabled,
      tags: { ...this.tags },
      versions: this.versions
        .filter((v) => v.stages.length > 0)
        .map((v) => ({ versionId: v.versionId, stages: [...v.stages] })),
    };
  }

  async getValue(
    secretId: string,
    at: { versionId?: string; stage?: string },
  ): Promise<SecretValue | undefined> {
    this.count('getValue');
    this.check(secretId);
    const v = this.versions.find(
      (x) =>
        (at.versionId === undefined || x.versionId === at.versionId) &&
        (at.stage === undefined || x.stages.includes(at.stage)) &&
        (at.versionId !== undefined || at.stage !== undefined),
    );
    if (!v || v.secretString === undefined) return undefined;
    return { versionId: v.versionId, stages: [...v.stages], secretString: v.secretString };
  }

  /** RotationTokens received, in order (the service needs them under an assumed role). */
  readonly rotationTokens: (string | undefined)[] = [];

  async putPending(
    secretId: string,
    token: string,
    secretString: string,
    rotationToken?: string,
  ): Promise<void> {
    this.count('putPending');
    this.rotationTokens.push(rotationToken);
    this.check(secretId);
    const existing = this.versions.find((v) => v.versionId === token);
    if (existing?.secretString !== undefined) {
      if (existing.secretString !== secretString)
        throw Object.assign(new Error('version exists'), { name: 'ResourceExistsException' });
      return;
    }
    if (existing) {
      this.versions.splice(this.versions.indexOf(existing), 1);
    }
    this.add(secretString, ['AWSPENDING'], token);
  }

  async moveStage(
    secretId: string,
    stage: string,
    move: { toVersionId?: string; fromVersionId?: string },
  ): Promise<void> {
    this.count('moveStage');
    this.check(secretId);
    const from = this.versions.find((v) => v.versionId === move.fromVersionId);
    const holder = this.versions.find((v) => v.stages.includes(stage));
    if (move.toVersionId && holder && holder.versionId !== move.toVersionId && holder !== from) {
      throw Object.assign(new Error(`${stage} is attached to another version`), {
        name: 'InvalidParameterException',
      });
    }
    if (from) from.stages = from.stages.filter((s) => s !== stage);
    if (move.toVersionId) {
      const to = this.versions.find((v) => v.versionId === move.toVersionId);
      if (!to) throw Object.assign(new Error('no such version'), { name: 'ResourceNotFoundException' });
      if (!to.stages.includes(stage)) to.stages.push(stage);
      if (stage === 'AWSCURRENT' && from) {
        this.take('AWSPREVIOUS');
        from.stages.push('AWSPREVIOUS');
      }
    }
  }

  async tag(secretId: string, tags: Readonly<Record<string, string>>): Promise<void> {
    this.count('tag');
    this.check(secretId);
    Object.assign(this.tags, tags);
  }

  async untag(secretId: string, keys: readonly string[]): Promise<void> {
    this.count('untag');
    this.check(secretId);
    for (const key of keys) delete this.tags[key];
  }

  async listVersions(secretId: string): Promise<SecretVersionListing[]> {
    this.count('listVersions');
    this.check(secretId);
    return this.versions
      .filter((v) => v.stages.length > 0)
      .map((v) => ({ versionId: v.versionId, stages: [...v.stages], createdDate: v.createdDate }));
  }

  private take(stage: string): void {
    for (const v of this.versions) v.stages = v.stages.filter((s) => s !== stage);
  }

  private count(op: string): void {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
  }

  private check(secretId: string): void {
    if (secretId !== this.arn && secretId !== 'app') {
      throw Object.assign(new Error("Secrets Manager can't find the specified secret."), {
        name: 'ResourceNotFoundException',
      });
    }
  }
}
