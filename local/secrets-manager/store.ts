import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { markedForDeletion, secretNotFound } from './errors.js';
import type { RotationEventRecord, SecretRecord } from './types.js';

const FORMAT_VERSION = 1;
const MAX_EVENTS = 1000;

interface StateFile {
  readonly formatVersion: number;
  readonly secrets: SecretRecord[];
  readonly events: RotationEventRecord[];
}

/**
 * The secrets and the rotation log, optionally mirrored to a JSON file after every change so another
 * process can pick up where this one stopped. The file holds secret values: it is written owner-only.
 */
export class SecretStore {
  private readonly secrets = new Map<string, SecretRecord>();
  private readonly log: RotationEventRecord[] = [];
  private readonly listeners = new Set<(event: RotationEventRecord) => void>();

  /**
   * @param file where state is kept; read now if it exists.
   * @throws Error naming the file when it exists but is not a state file this version understands.
   */
  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      let state: StateFile;
      try {
        state = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
      } catch (cause) {
        throw new Error(`state file ${file} is not valid JSON`, { cause });
      }
      if (state.formatVersion !== FORMAT_VERSION || !Array.isArray(state.secrets)) {
        throw new Error(
          `state file ${file} has format ${String(state.formatVersion)}, expected ${FORMAT_VERSION}`,
        );
      }
      for (const secret of state.secrets) this.secrets.set(secret.arn, secret);
      this.log.push(...(state.events ?? []));
    }
  }

  /** Every secret, including those scheduled for deletion. */
  all(): SecretRecord[] {
    return [...this.secrets.values()];
  }

  /** Finds a secret by name, full ARN, or ARN without the random suffix. */
  find(secretId: string): SecretRecord | undefined {
    const exact = this.secrets.get(secretId);
    if (exact) return exact;
    for (const secret of this.secrets.values()) {
      if (secret.name === secretId || secret.arn.slice(0, -7) === secretId) return secret;
    }
    return undefined;
  }

  /**
   * A secret that exists (scheduled for deletion or not).
   * @throws SecretsManagerError ResourceNotFoundException.
   */
  require(secretId: string, now: number): SecretRecord {
    const secret = this.find(secretId);
    if (!secret) throw secretNotFound();
    if (secret.deletionDate !== undefined && secret.deletionDate <= now) {
      // The recovery window has passed: the service would have deleted it by now.
      this.remove(secret.arn);
      throw secretNotFound();
    }
    return secret;
  }

  /**
   * A secret that exists and is not scheduled for deletion.
   * @throws SecretsManagerError ResourceNotFoundException or InvalidRequestException.
   */
  requireLive(secretId: string, now: number): SecretRecord {
    const secret = this.require(secretId, now);
    if (secret.deletedDate !== undefined) throw markedForDeletion();
    return secret;
  }

  /** Adds a secret. */
  add(secret: SecretRecord): void {
    this.secrets.set(secret.arn, secret);
  }

  /** Deletes a secret for good. */
  remove(arn: string): void {
    this.secrets.delete(arn);
  }

  /**
   * Appends to the rotation log (bounded), writes the state file with it, then tells listeners: an event
   * a listener saw is always in the file, so another process reads the same history.
   */
  record(event: RotationEventRecord): void {
    this.log.push(event);
    if (this.log.length > MAX_EVENTS) this.log.splice(0, this.log.length - MAX_EVENTS);
    this.save();
    for (const listener of this.listeners) listener(event);
  }

  /** Deletes for good the secrets whose recovery window has passed, as the service would have by now. */
  purgeExpired(now: number): void {
    for (const secret of this.secrets.values()) {
      if (secret.deletionDate !== undefined && secret.deletionDate <= now) this.secrets.delete(secret.arn);
    }
  }

  /** The rotation log, oldest first. */
  events(): readonly RotationEventRecord[] {
    return [...this.log];
  }

  /** Calls `listener` for every event recorded from now on; returns the function that stops it. */
  subscribe(listener: (event: RotationEventRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Writes the state file, if there is one (atomically: a crash never leaves half a file). */
  save(): void {
    if (!this.file) return;
    const state: StateFile = { formatVersion: FORMAT_VERSION, secrets: this.all(), events: this.log };
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
