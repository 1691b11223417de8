import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { codecFor, dataKeyFromSecretString } from './codecs/index.js';
import { rk1KeyIdOf } from './codecs/rk1.js';
import type { Classification, Codec, DataKey, FieldContext } from './codecs/types.js';
import type { CodecName } from './config.js';
import {
  ConfigError,
  DecryptError,
  RotationStateError,
  SecretFormatError,
  StaleKeyRingError,
} from './errors.js';
import { type Clock, systemClock } from './ports.js';
import { DEFAULT_READER_MAX_AGE_MS } from './reader-contract.js';

/** Options of {@link KeyRing.load}. */
export interface KeyRingOptions {
  /**
   * Any Secrets Manager client (only `send` is used), so an app can pass the one it already has,
   * even from another copy of the SDK.
   */
  readonly client: Pick<SecretsManagerClient, 'send'>;
  /** The secret's name or ARN. */
  readonly secretId: string;
  /**
   * The ciphertext format of the stored values (as in the rotation's configuration).
   * @default 'rk1'
   */
  readonly codec?: CodecName;
  /** The field of the secret's JSON value that holds the data key. */
  readonly dataKeyField: string;
  /**
   * Values under a key the ring does not hold trigger a reload at most this often; after a reload
   * that failed, the ring's own age-driven reloads also wait this long before trying again.
   * @default 60000
   */
  readonly minRefreshIntervalMs?: number;
  /**
   * The reader contract's bound: the ring never encrypts with keys fetched longer ago than this.
   * Once its keys are 80% of this old, any encrypt or decrypt reloads them in the background; an
   * encrypt that finds them this old waits for a reload, and fails if it fails. Must not exceed the
   * rotation's `readers.maxAgeMs`, which the rotation waits out before unstaging a key (see
   * docs/operations.md, "The reader contract").
   * @default 3600000 (one hour, `DEFAULT_READER_MAX_AGE_MS`)
   */
  readonly maxAgeMs?: number;
  /** @default the system clock */
  readonly clock?: Clock;
}

type Stage = 'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS';
const STAGES: readonly Stage[] = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'];
const DEFAULT_MIN_REFRESH_INTERVAL_MS = 60_000;
/**
 * The fraction of `maxAgeMs` after which calls reload the ring in the background: early enough that a
 * busy ring reloads long before any encrypt has to wait, and that a failing Secrets Manager has a
 * fifth of the bound (12 minutes by default) to recover before writes fail.
 */
const REFRESH_AHEAD_FRACTION = 0.8;

interface Keys {
  readonly current: DataKey;
  /** Current first, then pending, then previous; one entry per distinct key. */
  readonly all: readonly DataKey[];
  readonly byKid: ReadonlyMap<string, DataKey>;
}

/**
 * The reader library for apps: the data keys of the secret's versions staged AWSCURRENT, AWSPENDING
 * and AWSPREVIOUS. It encrypts with AWSCURRENT and decrypts with whichever key wrote the value — by
 * key id in O(1) for rk1, by HMAC for Fernet — so app instances read every row while a rotation
 * re-encrypts them. When it meets a value under a key it does not hold it reloads itself, at most
 * once per `minRefreshIntervalMs`, which is how instances follow a rotation without a restart.
 *
 * It keeps the reader contract (docs/operations.md) on its own, so a write-only worker, or an instance
 * that loaded while a rotation had a version staged AWSPENDING, follows promotions too: once its keys
 * are 80% of `maxAgeMs` old, any encrypt or decrypt starts a background reload (one at a time; a failed
 * one keeps the keys it had and is retried at most once per `minRefreshIntervalMs`), and it never
 * encrypts with keys older than `maxAgeMs`: such an encrypt waits for a reload and throws
 * {@link StaleKeyRingError} if it fails. Decrypting goes on with the keys held whatever their age.
 *
 * A pending or previous version whose data key field is missing or unusable is left out (it cannot
 * have written anything this ring could read); a bad AWSCURRENT fails the load. Nothing from a
 * secret value or a decrypted field appears in an error.
 *
 * @example
 * import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
 * import { KeyRing } from './reader.js';
 *
 * const ring = await KeyRing.load({
 *   client: new SecretsManagerClient({}),
 *   secretId: 'prod/app',
 *   codec: 'rk1',
 *   dataKeyField: 'encryptionKey',
 * });
 * const where = { table: 'data_sources', column: 'options' };
 * const stored = await ring.encrypt('{"password":"..."}', where); // 'rk1:<kid>:...'
 * const options = await ring.decryptString(stored, where);
 */
export class KeyRing {
  /** The bound this ring keeps (see {@link KeyRingOptions.maxAgeMs}), in ms. */
  readonly maxAgeMs: number;
  private keys: Keys;
  /** When the fetch that produced {@link KeyRing.keys} started (epoch ms). */
  private keysFetchedAt: number;
  /** When the last reload triggered by an unknown key started; the initial load does not count. */
  private lastOnDemandRefresh = Number.NEGATIVE_INFINITY;
  /** The last reload's failure, until a reload succeeds. */
  private lastFailure: { readonly at: number; readonly cause: unknown } | undefined;
  private inflight: Promise<void> | undefined;
  private readonly codec: Codec;
  private readonly clock: Clock;
  private readonly minRefreshIntervalMs: number;
  private readonly refreshAheadMs: number;

  private constructor(
    private readonly options: KeyRingOptions,
    codec: Codec,
    clock: Clock,
    maxAgeMs: number,
    loaded: { readonly keys: Keys; readonly at: number },
  ) {
    this.codec = codec;
    this.clock = clock;
    this.maxAgeMs = maxAgeMs;
    this.keys = loaded.keys;
    this.keysFetchedAt = loaded.at;
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS;
    this.refreshAheadMs = maxAgeMs * REFRESH_AHEAD_FRACTION;
  }

  /**
   * Loads the ring from Secrets Manager (three GetSecretValue calls, in parallel).
   * @throws ConfigError for an unknown codec name or a `maxAgeMs` that is not a positive number;
   * RotationStateError when the secret has no AWSCURRENT value; SecretFormatError when AWSCURRENT
   * holds no JSON SecretString with a usable data key field (names the field, never the value); the
   * SDK's own error when Secrets Manager cannot be read.
   */
  static async load(options: KeyRingOptions): Promise<KeyRing> {
    const codec = codecFor(options.codec ?? 'rk1');
    const maxAgeMs = options.maxAgeMs ?? DEFAULT_READER_MAX_AGE_MS;
    if (!(Number.isFinite(maxAgeMs) && maxAgeMs > 0)) {
      throw new ConfigError(`KeyRing maxAgeMs must be a positive number of milliseconds, got ${maxAgeMs}`);
    }
    const clock = options.clock ?? systemClock;
    const at = clock.now();
    const keys = await fetchKeys(options, codec);
    return new KeyRing(options, codec, clock, maxAgeMs, { keys, at });
  }

  /**
   * Reloads the staged versions now (for apps that prefer to refresh on their own schedule too).
   * Concurrent calls share one reload, the ring's own background reloads included; on failure the
   * ring keeps the keys it had.
   * @throws as {@link KeyRing.load}.
   */
  refresh(): Promise<void> {
    if (this.inflight === undefined) {
      // The start of the fetch, not its end: the keys were staged so at some instant in between.
      const startedAt = this.clock.now();
      this.inflight = fetchKeys(this.options, this.codec)
        .then(
          (keys) => {
            this.keys = keys;
            this.keysFetchedAt = startedAt;
            this.lastFailure = undefined;
          },
          (cause: unknown) => {
            this.lastFailure = { at: this.clock.now(), cause };
            throw cause;
          },
        )
        .finally(() => {
          this.inflight = undefined;
        });
    }
    return this.inflight;
  }

  /**
   * When the keys held were fetched (epoch ms, by the ring's clock): the start of the last
   * successful load or reload. For diagnostics, such as a fleet heartbeat of ring ages.
   */
  get loadedAt(): number {
    return this.keysFetchedAt;
  }

  /** When the last reload failed (epoch ms), or `undefined` when it succeeded. For diagnostics. */
  get lastRefreshFailedAt(): number | undefined {
    return this.lastFailure?.at;
  }

  /** The public ids of the keys held, current first (for diagnostics: ids reveal nothing of the keys). */
  get keyIds(): string[] {
    return this.keys.all.map((k) => k.kid);
  }

  /** The public id of the AWSCURRENT key, which {@link KeyRing.encrypt} uses. */
  get currentKeyId(): string {
    return this.keys.current.kid;
  }

  /**
   * Encrypts with the AWSCURRENT key, for storing in `where` (rk1 binds the value to it). Keys 80% of
   * `maxAgeMs` old are reloaded in the background; keys `maxAgeMs` old or older are reloaded first.
   * @throws StaleKeyRingError when the keys are `maxAgeMs` old or older and reloading them fails (or
   * failed less than `minRefreshIntervalMs` ago; the error's cause is that failure).
   */
  async encrypt(plaintext: string | Uint8Array, where: FieldContext): Promise<string> {
    const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    return this.codec.encrypt(bytes, await this.currentKeyToWrite(), where);
  }

  /**
   * Decrypts a stored value with the key that wrote it. When no key the ring holds did, it reloads
   * the ring first, unless it already did so within `minRefreshIntervalMs`. Keys of any age are used
   * (reading with an old key is safe); keys 80% of `maxAgeMs` old are reloaded in the background. A
   * value read from a binary column may be passed as its bytes.
   * @throws DecryptError for a value that is not encrypted, that no staged key wrote, or that its key
   * does not open (tampered, or moved from another table or column).
   */
  async decrypt(value: string | Uint8Array, where: FieldContext): Promise<Uint8Array> {
    this.refreshAhead(this.clock.now());
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    const at = `${where.table}.${where.column}`;
    let found = this.find(text, where);
    // A damaged rk1 value (no key id to read) cannot be helped by a reload; Fernet never has an id.
    if (found.kind === 'unknown' && found.kid === undefined && this.codec.formatPrefix !== undefined) {
      throw new DecryptError(`value in ${at} starts with ${this.codec.formatPrefix} but is damaged`);
    }
    if (found.kind === 'unknown') {
      const now = this.clock.now();
      if (now - this.lastOnDemandRefresh >= this.minRefreshIntervalMs) {
        this.lastOnDemandRefresh = now;
        try {
          // A reload already under way (a background one) may have fetched before this value's key was
          // staged; joining it alone would spend this call's reload and still miss the key.
          if (this.inflight) await this.inflight.catch(() => undefined);
          if (this.find(text, where).kind === 'unknown') await this.refresh();
        } catch (cause) {
          throw new DecryptError(
            `value in ${at} is under a key the ring does not hold, and reloading the ring failed`,
            { cause },
          );
        }
      } else if (this.inflight) {
        // Another call is reloading already: its keys may be the ones this value needs.
        await this.inflight.catch(() => undefined);
      }
      found = this.find(text, where);
    }
    if (found.kind === 'plaintext') throw new DecryptError(`value in ${at} is not encrypted`);
    if (found.kind === 'unknown') {
      const kid = found.kid === undefined ? '' : ` (key id ${found.kid})`;
      throw new DecryptError(
        `value in ${at} is under a key that no version staged AWSCURRENT, AWSPENDING or AWSPREVIOUS holds${kid}`,
      );
    }
    return this.codec.decrypt(text, found.key, where);
  }

  /** {@link KeyRing.decrypt}, as UTF-8 text. */
  async decryptString(value: string | Uint8Array, where: FieldContext): Promise<string> {
    return Buffer.from(await this.decrypt(value, where)).toString('utf8');
  }

  /**
   * The AWSCURRENT key, known to be so within `maxAgeMs`: reloads in the background from 80% of the
   * bound, and waits for a reload past it.
   */
  private async currentKeyToWrite(): Promise<DataKey> {
    const now = this.clock.now();
    if (now - this.keysFetchedAt < this.maxAgeMs) {
      this.refreshAhead(now);
      return this.keys.current;
    }
    const failure = this.lastFailure;
    // A reload that just failed is not retried on every write (that would pile onto a throttled or
    // failing Secrets Manager): the write fails closed with that failure as its cause.
    if (this.inflight === undefined && failure && now - failure.at < this.minRefreshIntervalMs) {
      throw this.stale(now, failure.cause);
    }
    // Twice at most: a shared reload that started before the bound ran out may end too old.
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await this.refresh();
      } catch (cause) {
        throw this.stale(this.clock.now(), cause);
      }
      if (this.clock.now() - this.keysFetchedAt < this.maxAgeMs) return this.keys.current;
    }
    throw this.stale(this.clock.now(), undefined);
  }

  /** Starts a background reload once the keys are past the refresh-ahead point; never rejects. */
  private refreshAhead(now: number): void {
    if (this.inflight !== undefined || now - this.keysFetchedAt < this.refreshAheadMs) return;
    if (this.lastFailure && now - this.lastFailure.at < this.minRefreshIntervalMs) return;
    // Its failure is kept in lastFailure (and the old keys are kept): nothing to report here.
    this.refresh().catch(() => undefined);
  }

  private stale(now: number, cause: unknown): StaleKeyRingError {
    const ageMs = now - this.keysFetchedAt;
    const options = cause === undefined ? undefined : { cause };
    return new StaleKeyRingError(this.options.secretId, this.keysFetchedAt, ageMs, this.maxAgeMs, options);
  }

  /**
   * Which held key wrote the value. rk1 looks the clear-text key id up in a map and leaves the tag to
   * the one decrypt that follows; Fernet asks each key's HMAC.
   */
  private find(value: string, where: FieldContext): Classification {
    if (this.codec.name !== 'rk1') return this.codec.classify(value, this.keys.all, where);
    const kid = rk1KeyIdOf(value);
    // Not well-formed: the codec tells plaintext from damaged ciphertext, with no key to try.
    if (kid === undefined) return this.codec.classify(value, [], where);
    const key = this.keys.byKid.get(kid);
    return key ? { kind: 'key', key } : { kind: 'unknown', kid };
  }
}

async function fetchKeys(options: KeyRingOptions, codec: Codec): Promise<Keys> {
  const values = await Promise.all(STAGES.map((stage) => valueAt(options, stage)));
  const [current, ...others] = values;
  if (current === undefined)
    throw new RotationStateError(`secret ${options.secretId} has no AWSCURRENT value`);
  if (current.text === undefined) {
    throw new SecretFormatError(
      `secret ${options.secretId}: the AWSCURRENT version has no SecretString (binary secrets are not supported)`,
    );
  }
  const currentKey = dataKeyFromSecretString(current.text, options.dataKeyField, codec.name);
  const byKid = new Map<string, DataKey>([[currentKey.kid, currentKey]]);
  for (const other of others) {
    if (other?.text === undefined) continue;
    try {
      const key = dataKeyFromSecretString(other.text, options.dataKeyField, codec.name);
      if (!byKid.has(key.kid)) byKid.set(key.kid, key);
    } catch (error) {
      // Not this version's data key: nothing this ring could read was written with it.
      if (!(error instanceof SecretFormatError)) throw error;
    }
  }
  return { current: currentKey, all: [...byKid.values()], byKid };
}

async function valueAt(options: KeyRingOptions, stage: Stage): Promise<{ text?: string } | undefined> {
  try {
    const out = await options.client.send(
      new GetSecretValueCommand({ SecretId: options.secretId, VersionStage: stage }),
    );
    return { text: out.SecretString };
  } catch (error) {
    // By name, not class: the app's client may come from another copy of the SDK.
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}
