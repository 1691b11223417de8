import type { SecretDescription } from './ports.js';

/**
 * rekey's marks on the secret, kept as tags (public metadata: version ids and times, never a value).
 * They are the positive proof the steps need before an irreversible act:
 * - `rekey:promoted` — which version rekey last made AWSCURRENT, and when (an upper bound: the tag is
 *   written after the label moved), so a later promotion knows how long readers may still hold the key
 *   it would unstage;
 * - `rekey:verified` — the version whose testSecret passed, so finishSecret never promotes an untested
 *   version;
 * - `rekey:aborting` — the pending version that `rekey abort` is taking away, so running and retried
 *   steps stop instead of writing under a key that is about to be unstaged.
 */
export const MARK_TAGS = {
  promoted: 'rekey:promoted',
  verified: 'rekey:verified',
  aborting: 'rekey:aborting',
} as const;

/** The marks as read from the tags; a malformed mark reads as absent. */
export interface RotationMarks {
  readonly promoted?: { readonly versionId: string; readonly at: number };
  readonly verified?: string;
  readonly aborting?: string;
}

/** Reads rekey's marks from a description's tags. */
export function readMarks(description: Pick<SecretDescription, 'tags'>): RotationMarks {
  const tags = description.tags;
  const [versionId, iso] = (tags[MARK_TAGS.promoted] ?? '').split(' ');
  const at = iso === undefined ? Number.NaN : Date.parse(iso);
  return {
    ...(versionId && Number.isFinite(at) ? { promoted: { versionId, at } } : {}),
    ...(tags[MARK_TAGS.verified] ? { verified: tags[MARK_TAGS.verified] } : {}),
    ...(tags[MARK_TAGS.aborting] ? { aborting: tags[MARK_TAGS.aborting] } : {}),
  };
}

/** The tag that records a promotion (tag values allow letters, digits, spaces and `+-=._:/@`). */
export function promotedTag(versionId: string, at: number): Record<string, string> {
  return { [MARK_TAGS.promoted]: `${versionId} ${new Date(at).toISOString()}` };
}
