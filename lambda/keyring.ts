import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { codecFor, dataKeyFromSecretString } from './codecs/index.js';
import type { Codec, DataKey, FieldContext } from './codecs/types.js';
import type { CodecName } from './config.js';
import { DecryptError, RotationStateError } from './errors.js';
import { type Clock, systemClock } from './ports.js';

/** Options of {@link KeyRing.load}. */
export interface KeyRingOptions {
  readonly client: SecretsManagerClient;
  readonly secretId: string;
  /** The field of the secret's JSON value that holds the data key. */
  readonly dataKeyField: string;
  /** @default 'rk1' */
  readonly codec?: CodecName;
  /** A value under an unknown key triggers a reload at most this often. @default 60000 */
  readonly minRefreshIntervalMs?: number;
  /** @default the system clock */
  readonly clock?: Clock;
}

const STAGES = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'] as const;

/**
 * The reader library for apps: the data keys of the versions staged AWSCURRENT, AWSPENDING and
 * AWSPREVIOUS. Encrypts with AWSCURRENT, decrypts with whichever key wrote the value (by key id for
 * rk1, by HMAC for Fernet), and reloads itself, rate-limited, when it meets a key it does not hold —
 * which is how app instances follow a rotation without a restart.
 *
 * @example
 * const ring = await KeyRing.load({ client: new SecretsManagerClient({}), secretId: 'app', dataKeyField: 'encryptionKey' });
 * const stored = await ring.encrypt('{"password":"..."}', { table: 'data_sources', column: 'options' });
 * const options = await ring.decryptString(stored, { table: 'data_sources', column: 'options' });
 */
export class KeyRing {
  private keys: readonly DataKey[] = [];
  private current: DataKey | undefined;
  private lastLoad = Number.NEGATIVE_INFINITY;
  private readonly codec: Codec;
  private readonly clock: Clock;

  private constructor(private readonly options: KeyRingOptions) {
    this.codec = codecFor(options.codec ?? 'rk1');
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Loads the ring from Secrets Manager.
   * @throws RotationStateError when the secret has no AWSCURRENT value; SecretFormatError when a
   * version's data key field is not usable (names the field, never the value).
   */
  static async load(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options);
    await ring.refresh();
    return ring;
  }

  /** Reloads the staged versions now. */
  async refresh(): Promise<void> {
    this.lastLoad = this.clock.now();
    const keys: DataKey[] = [];
    let current: DataKey | undefined;
    for (const stage of STAGES) {
      const value = await this.valueAt(stage);
      if (value === undefined) continue;
      const key = dataKeyFromSecretString(value, this.options.dataKeyField, this.codec.name);
      if (stage === 'AWSCURRENT') current = key;
      if (!keys.some((k) => k.kid === key.kid)) keys.push(key);
    }
    if (!current) throw new RotationStateError(`secret ${this.options.secretId} has no AWSCURRENT value`);
    this.current = current;
    this.keys = keys;
  }

  /** The public ids of the keys held, current first (for diagnostics; ids reveal nothing of the keys). */
  get keyIds(): string[] {
    return this.keys.map((k) => k.kid);
  }

  /** Encrypts with the AWSCURRENT key. */
  async encrypt(plaintext: string | Uint8Array, where: FieldContext): Promise<string> {
    const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    return this.codec.encrypt(bytes, this.current as DataKey, where);
  }

  /**
   * Decrypts with the key that wrote the value, reloading the ring once (rate-limited) when no key
   * it holds did.
   * @throws DecryptError for a value that is not encrypted, or that no staged key opens.
   */
  async decrypt(value: string, where: FieldContext): Promise<Uint8Array> {
    let found = this.codec.classify(value, this.keys, where);
    if (
      found.kind === 'unknown' &&
      this.clock.now() - this.lastLoad >= (this.options.minRefreshIntervalMs ?? 60_000)
    ) {
      await this.refresh();
      found = this.codec.classify(value, this.keys, where);
    }
    if (found.kind === 'plaintext')
      throw new DecryptError(`value in ${where.table}.${where.column} is not encrypted`);
    if (found.kind === 'unknown') {
      throw new DecryptError(
        `value in ${where.table}.${where.column} is under a key no staged version holds${found.kid ? ` (key id ${found.kid})` : ''}`,
      );
    }
    return this.codec.decrypt(value, found.key, where);
  }

  /** {@link decrypt}, as UTF-8 text. */
  async decryptString(value: string, where: FieldContext): Promise<string> {
    return Buffer.from(await this.decrypt(value, where)).toString('utf8');
  }

  private async valueAt(stage: string): Promise<string | undefined> {
    try {
      const out = await this.options.client.send(
        new GetSecretValueCommand({ SecretId: this.options.secretId, VersionStage: stage }),
      );
      return out.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }
}
