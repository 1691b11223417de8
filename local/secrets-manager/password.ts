import { randomInt } from 'node:crypto';
import { invalidParameter } from './errors.js';

/** GetRandomPassword's options (wire names). */
export interface PasswordOptions {
  readonly PasswordLength?: number | undefined;
  readonly ExcludeCharacters?: string | undefined;
  readonly ExcludeNumbers?: boolean | undefined;
  readonly ExcludePunctuation?: boolean | undefined;
  readonly ExcludeUppercase?: boolean | undefined;
  readonly ExcludeLowercase?: boolean | undefined;
  readonly IncludeSpace?: boolean | undefined;
  readonly RequireEachIncludedType?: boolean | undefined;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/**
 * A random password from a cryptographic source, with the service's defaults: 32 characters from
 * letters, digits and punctuation, at least one of each included type.
 * @throws SecretsManagerError InvalidParameterException for an impossible combination.
 */
export function randomPassword(options: PasswordOptions): string {
  const length = options.PasswordLength ?? 32;
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw invalidParameter(`PasswordLength must be from 1 to 4096, got ${length}`);
  }
  const exclude = new Set(options.ExcludeCharacters ?? '');
  const keep = (set: string): string => [...set].filter((c) => !exclude.has(c)).join('');
  const classes = [
    options.ExcludeLowercase ? '' : keep(LOWER),
    options.ExcludeUppercase ? '' : keep(UPPER),
    options.ExcludeNumbers ? '' : keep(DIGITS),
    options.ExcludePunctuation ? '' : keep(PUNCTUATION),
    options.IncludeSpace ? keep(' ') : '',
  ].filter((c) => c.length > 0);
  const all = classes.join('');
  if (all.length === 0) throw invalidParameter('The options exclude every character.');
  const requireEach = options.RequireEachIncludedType ?? true;
  if (requireEach && length < classes.length) {
    throw invalidParameter(
      `PasswordLength ${length} is too short to include each of ${classes.length} character types.`,
    );
  }
  const chars = Array.from({ length }, () => all[randomInt(all.length)] as string);
  if (requireEach) {
    // Put one character of each type at distinct random positions.
    const positions = shuffle([...Array(length).keys()]).slice(0, classes.length);
    classes.forEach((set, i) => {
      chars[positions[i] as number] = set[randomInt(set.length)] as string;
    });
  }
  return chars.join('');
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
