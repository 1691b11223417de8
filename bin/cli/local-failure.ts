/**
 * How `rekey local` tells `rekey rotate-now --wait` (another process, reaching it only through the
 * Secrets Manager API) which step of a rotation failed and why: the local Secrets Manager records a
 * RotationFailed event with the step and the error once a rotation's attempts are used up, and
 * `rekey local` copies it into a tag on the secret, which DescribeSecret shows. The service has no
 * such tag: on AWS the step and the error are in the rotation function's log.
 */

/** The tag `rekey local` writes on a secret whose rotation failed. */
export const LOCAL_FAILURE_TAG = 'rekey-local:rotation-failed';

/** AWS allows tag values of up to 256 characters. */
const MAX_TAG_VALUE = 256;

/** A failed rotation, as the local Secrets Manager recorded it: names and messages, never a value. */
export interface LocalFailure {
  readonly versionId: string;
  readonly step: string;
  readonly attempt: number;
  /** `ErrorName: message`. */
  readonly error: string;
}

/** The tag value for a failure, cut to the 256 characters a tag value may hold. */
export function failureTagValue(failure: LocalFailure): string {
  const value = `${failure.versionId} ${failure.step} ${failure.attempt} ${failure.error.replace(/\s+/g, ' ')}`;
  return value.length <= MAX_TAG_VALUE ? value : `${value.slice(0, MAX_TAG_VALUE - 1)}…`;
}

/** The failure recorded for `versionId` in a secret's tags, if `rekey local` recorded one. */
export function failureFromTags(
  tags: readonly { readonly Key?: string; readonly Value?: string }[] | undefined,
  versionId: string,
): LocalFailure | undefined {
  const value = tags?.find((t) => t.Key === LOCAL_FAILURE_TAG)?.Value;
  const match = value ? /^(\S+) (\S+) (\d+) (.*)$/s.exec(value) : null;
  if (!match || match[1] !== versionId) return undefined;
  return {
    versionId,
    step: match[2] as string,
    attempt: Number(match[3]),
    error: match[4] as string,
  };
}
