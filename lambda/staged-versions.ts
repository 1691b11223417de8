import type { RekeyConfig } from './config.js';
import type { KeyLabel, StagedValue } from './passes/census.js';
import type { SecretDescription, SecretsStore, SecretVersionInfo } from './ports.js';
import { checkSecretValue } from './secret-template.js';

/** The versions that hold the rotation's labels. */
export interface StagedVersions {
  readonly current?: SecretVersionInfo;
  /** AWSPENDING on a version other than AWSCURRENT: a rotation is under way or stuck. */
  readonly pending?: SecretVersionInfo;
  readonly previous?: SecretVersionInfo;
}

/** Finds the versions staged AWSCURRENT, AWSPENDING (on another version) and AWSPREVIOUS. */
export function stagedVersions(description: Pick<SecretDescription, 'versions'>): StagedVersions {
  const holding = (stage: string) => description.versions.find((v) => v.stages.includes(stage));
  const pending = holding('AWSPENDING');
  return {
    current: holding('AWSCURRENT'),
    pending: pending && !pending.stages.includes('AWSCURRENT') ? pending : undefined,
    previous: holding('AWSPREVIOUS'),
  };
}

/**
 * Reads the staged versions' values, as current, pending, previous, each checked against the template.
 * A label whose version has no value (createSecret has not run yet) is left out. The values stay in
 * this process; only key ids derived from them are ever printed.
 * @throws SecretFormatError when a value does not match the template (naming the field, not the value).
 */
export async function loadStagedValues(
  secrets: SecretsStore,
  secretId: string,
  config: RekeyConfig,
  versions: StagedVersions,
): Promise<StagedValue[]> {
  const staged: StagedValue[] = [];
  const labels: [KeyLabel, SecretVersionInfo | undefined, string][] = [
    ['current', versions.current, 'AWSCURRENT'],
    ['pending', versions.pending, 'AWSPENDING'],
    ['previous', versions.previous, 'AWSPREVIOUS'],
  ];
  for (const [label, version, stage] of labels) {
    if (!version) continue;
    const value = await secrets.getValue(secretId, { versionId: version.versionId, stage });
    if (!value) continue;
    checkSecretValue(value.secretString, config.secretTemplate, `${stage} version ${version.versionId}`);
    staged.push({ label, versionId: version.versionId, secretString: value.secretString });
  }
  return staged;
}
