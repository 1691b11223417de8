import type { CodecName } from '../config.js';
import { ConfigError, SecretFormatError } from '../errors.js';
import { fernet, fernetSha256 } from './fernet.js';
import { rk1 } from './rk1.js';
import type { Codec, DataKey } from './types.js';

export type { CodecName } from '../config.js';
export type { Classification, Codec, DataKey, FieldContext } from './types.js';

const CODECS: Readonly<Record<CodecName, Codec>> = Object.freeze({
  rk1,
  fernet,
  'fernet-sha256': fernetSha256,
});

/**
 * The codec of a name.
 * @throws ConfigError for a name that is not a codec (possible from JavaScript callers of the reader).
 */
export function codecFor(name: CodecName): Codec {
  if (!Object.hasOwn(CODECS, name)) {
    throw new ConfigError(`codec must be one of ${Object.keys(CODECS).join(', ')}, got '${String(name)}'`);
  }
  return CODECS[name];
}

/**
 * The data key held by a secret value (JSON object) in `dataKeyField`, for the codec. Used by the
 * rotation steps and the reader alike, so both read a version the same way.
 * @throws SecretFormatError naming the field and what is wrong, never the value.
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
    // JSON.parse's message quotes the text around the error: it must not travel, not even as a cause.
    throw new SecretFormatError(`the secret value is not JSON, so it has no field '${dataKeyField}'`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SecretFormatError(
      `the secret value is not a JSON object, so it has no field '${dataKeyField}'`,
    );
  }
  const field: unknown = Object.hasOwn(parsed, dataKeyField)
    ? (parsed as Record<string, unknown>)[dataKeyField]
    : undefined;
  if (typeof field !== 'string' || field.length === 0) {
    throw new SecretFormatError(`the secret value has no non-empty string field '${dataKeyField}'`);
  }
  const c = codecFor(codec);
  try {
    return c.deriveKey(field);
  } catch (error) {
    if (!(error instanceof SecretFormatError)) throw error;
    throw new SecretFormatError(`field '${dataKeyField}' holds no usable ${c.name} key: ${error.message}`, {
      cause: error,
    });
  }
}
