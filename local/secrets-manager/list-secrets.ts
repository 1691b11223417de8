import type { z } from 'zod';
import { type OperationContext, page, secretMetadata, versionsToStages } from './operations.js';
import type { listSecretsRequest } from './requests.js';
import type { SecretRecord } from './types.js';

type ListSecretsInput = z.infer<typeof listSecretsRequest>;
type SecretFilter = NonNullable<ListSecretsInput['Filters']>[number];

/**
 * ListSecrets: metadata of every secret, never a value, paginated with MaxResults and NextToken.
 * Secrets scheduled for deletion only with IncludePlannedDeletion. Filters as the service applies them:
 * every filter must match, any one of a filter's values is enough, a value starting with `!` negates.
 * @throws SecretsManagerError InvalidNextTokenException.
 */
export function listSecrets(ctx: OperationContext, input: ListSecretsInput): Record<string, unknown> {
  const now = ctx.clock.now();
  ctx.store.purgeExpired(now);
  const secrets = ctx.store
    .all()
    .filter((s) => input.IncludePlannedDeletion === true || s.deletedDate === undefined)
    .filter((s) => (input.Filters ?? []).every((f) => matchesFilter(s, f)))
    .sort(comparator(input.SortBy ?? 'created-date', input.SortOrder ?? 'asc'));
  const { items, nextToken } = page(secrets, input);
  return { SecretList: items.map(listEntry), NextToken: nextToken };
}

function listEntry(secret: SecretRecord): Record<string, unknown> {
  return { ...secretMetadata(secret), SecretVersionsToStages: versionsToStages(secret) };
}

function matchesFilter(secret: SecretRecord, filter: SecretFilter): boolean {
  return filter.Values.some((value) => {
    const negated = value.startsWith('!');
    const word = negated ? value.slice(1) : value;
    return matchesValue(secret, filter.Key, word) !== negated;
  });
}

function matchesValue(secret: SecretRecord, key: SecretFilter['Key'], value: string): boolean {
  const keys = secret.tags.map((t) => t.Key ?? '');
  const values = secret.tags.map((t) => t.Value ?? '');
  switch (key) {
    case 'name':
      return secret.name.startsWith(value);
    case 'description':
      return (secret.description ?? '').toLowerCase().startsWith(value.toLowerCase());
    case 'tag-key':
      return keys.some((k) => k.startsWith(value));
    case 'tag-value':
      return values.some((v) => v.startsWith(value));
    case 'primary-region':
    case 'owning-service':
      // Local secrets are neither replicas nor managed by another service.
      return false;
    case 'all': {
      const targets = [secret.name, secret.description ?? '', ...keys, ...values].flatMap(words);
      return words(value).some((w) => targets.some((t) => t.startsWith(w)));
    }
  }
}

/**
 * The words the service's free-text search sees: runs of letters or digits, split where the case goes
 * from upper to lower or letters meet digits (`credsDatabase#892` is creds, database, 892), lower-cased.
 */
function words(text: string): string[] {
  return (text.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+/g) ?? []).map((w) => w.toLowerCase());
}

function comparator(
  by: NonNullable<ListSecretsInput['SortBy']>,
  order: 'asc' | 'desc',
): (a: SecretRecord, b: SecretRecord) => number {
  const key = (s: SecretRecord): number | string =>
    by === 'name'
      ? s.name
      : by === 'last-accessed-date'
        ? (s.lastAccessedDate ?? 0)
        : by === 'last-changed-date'
          ? s.lastChangedDate
          : s.createdDate;
  const sign = order === 'asc' ? 1 : -1;
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    // Ties (secrets created in the same millisecond) fall back to the name, so pages are stable.
    const primary = ka < kb ? -1 : ka > kb ? 1 : 0;
    return sign * (primary || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  };
}
