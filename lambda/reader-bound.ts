import type { RekeyConfig } from './config.js';
import { RotationStateError } from './errors.js';
import type { Clock, SecretDescription, SecretsStore } from './ports.js';
import { readMarks } from './rotation-marks.js';

/**
 * When the version now staged AWSCURRENT became so: the `rekey:promoted` mark when it names that version
 * (written after the label moved, so never earlier than the promotion); otherwise the version's
 * CreatedDate, which is exact for a value written straight to AWSCURRENT (PutSecretValue, CreateSecret,
 * `rekey init`), the only other way a version becomes current while the secret guard policy keeps
 * label moves to rekey. `undefined` when the store tells neither.
 */
export async function promotedAt(
  secrets: SecretsStore,
  description: SecretDescription,
): Promise<number | undefined> {
  const current = description.versions.find((v) => v.stages.includes('AWSCURRENT'));
  const promoted = readMarks(description).promoted;
  if (current && promoted?.versionId === current.versionId) return promoted.at;
  const versions = await secrets.listVersions(description.arn);
  return versions.find((v) => v.versionId === current?.versionId)?.createdDate;
}

/**
 * The reader contract's half that the rotation keeps (lambda/reader-contract.ts): a promotion that
 * unstages the key of the version now AWSPREVIOUS waits until readers within the bound can no longer
 * encrypt with it, that is until `readers.maxAgeMs + readers.marginMs` after that key stopped being
 * AWSCURRENT. Checked when a rotation starts (so it fails before anything is written) and again right
 * before promotion.
 * @throws RotationStateError saying when the rotation may go on, and why.
 */
export async function checkReadersCaughtUp(
  deps: { readonly secrets: SecretsStore; readonly config: RekeyConfig; readonly clock: Clock },
  description: SecretDescription,
  act: 'start a rotation' | 'promote version',
): Promise<void> {
  const { maxAgeMs, marginMs } = deps.config.readers;
  const since = await promotedAt(deps.secrets, description);
  const now = deps.clock.now();
  const current = description.versions.find((v) => v.stages.includes('AWSCURRENT'))?.versionId;
  const why =
    `promoting now would unstage the key of the version staged AWSPREVIOUS, and readers that follow the ` +
    `reader contract may encrypt with it for up to readers.maxAgeMs (${maxAgeMs} ms) after it stopped being ` +
    `AWSCURRENT, plus readers.marginMs (${marginMs} ms)`;
  if (since === undefined) {
    throw new RotationStateError(
      `Refusing to ${act} for secret ${description.name}: ${why}, and neither a rekey:promoted mark for ` +
        `version ${current} nor its CreatedDate says when that was. See docs/operations.md, "The reader contract"`,
    );
  }
  const allowedFrom = since + maxAgeMs + marginMs;
  if (now < allowedFrom) {
    throw new RotationStateError(
      `Refusing to ${act} for secret ${description.name}: version ${current} became AWSCURRENT at ` +
        `${new Date(since).toISOString()} (or earlier) and ${why}. Rotate at or after ${new Date(allowedFrom).toISOString()}; ` +
        'lower readers.maxAgeMs only if every reader refreshes more often (docs/operations.md, "The reader contract")',
    );
  }
}
