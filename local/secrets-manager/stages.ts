import type { SecretRecord, VersionRecord } from './types.js';

/** The staging label of the version in use. */
export const AWSCURRENT = 'AWSCURRENT';
/** The staging label of the version a rotation is creating. */
export const AWSPENDING = 'AWSPENDING';
/** The staging label of the version that was current before the current one. */
export const AWSPREVIOUS = 'AWSPREVIOUS';

/** Deprecated versions (no labels) kept; older ones are dropped, as the service drops them. */
const MAX_DEPRECATED = 100;

/** The version holding a label, if any. */
export function versionWithStage(secret: SecretRecord, stage: string): VersionRecord | undefined {
  return secret.versions.find((v) => v.stages.includes(stage));
}

/** A version by id, if any. */
export function findVersion(secret: SecretRecord, versionId: string): VersionRecord | undefined {
  return secret.versions.find((v) => v.versionId === versionId);
}

/**
 * Attaches a label to a version, taking it from whichever version had it: a label is on one version at
 * a time. When AWSCURRENT moves, the version that had it becomes AWSPREVIOUS.
 */
export function attachStage(secret: SecretRecord, version: VersionRecord, stage: string): void {
  const holder = versionWithStage(secret, stage);
  if (holder === version) return;
  if (holder) detachStage(holder, stage);
  version.stages.push(stage);
  if (stage === AWSCURRENT && holder) attachStage(secret, holder, AWSPREVIOUS);
}

/** Removes a label from a version. */
export function detachStage(version: VersionRecord, stage: string): void {
  version.stages = version.stages.filter((s) => s !== stage);
}

/**
 * The version of a rotation that has not finished: AWSPENDING on a version other than AWSCURRENT.
 * AWSPENDING left on the current version after a rotation does not count.
 */
export function unfinishedPending(secret: SecretRecord): VersionRecord | undefined {
  const pending = versionWithStage(secret, AWSPENDING);
  return pending && !pending.stages.includes(AWSCURRENT) ? pending : undefined;
}

/** Drops the oldest versions without labels beyond what the service keeps. */
export function pruneDeprecated(secret: SecretRecord): void {
  const deprecated = secret.versions.filter((v) => v.stages.length === 0);
  const drop = new Set(deprecated.slice(0, Math.max(0, deprecated.length - MAX_DEPRECATED)));
  if (drop.size > 0) secret.versions = secret.versions.filter((v) => !drop.has(v));
}
