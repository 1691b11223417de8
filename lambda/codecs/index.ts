import type { CodecName } from '../config.js';
import { SecretFormatError } from '../errors.js';
import { fernet, fernetSha256 } from './fernet.js';
import { rk1 } from './rk1.js';
import type { Codec, DataKey } from './types.js';

export type { Classification, Codec, DataKey, FieldContext } from './types.js';

const CODECS: Record<CodecName, Codec> = { rk1, fernet, 'fernet-sha256': fernetSha256 };

/** The codec of a name. */
export function codecFor(name: CodecName): Codec {
  return CODECS[name];
}

/**
 * The data key held by a secret value (JSON) in `dataKeyField`, for the codec.
 * @throws SecretFormatError naming the field, never the value.
 */
export function dataKeyFromSecretString(
  secretString: string,
  dataKeyField: string,
  codec: CodecName,
): DataKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new SecretFormatError('the secret value is not JSON');
  }
  const field = (parsed as Record<string, unknown> | null)?.[dataKeyField];
  if (typeof field !== 'string' || field.length === 0) {
    throw new SecretFormatError(`the secret value has no string field '${dataKeyField}'`);
  }
  try {
    return codecFor(codec).deriveKey(field);
  } catch (error) {
    throw new SecretFormatError(`field '${dataKeyField}': ${(error as Error).message}`);
  }
}
