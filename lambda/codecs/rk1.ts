import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptError, SecretFormatError } from '../errors.js';
import { keyIdOf } from './key-id.js';
import type { Classification, Codec, DataKey, FieldContext } from './types.js';

const PREFIX = 'rk1:';
const KID_LENGTH = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const BODY = /^[A-Za-z0-9_-]+$/;

/**
 * rk1: `rk1:<kid>:<base64url(nonce12 | ciphertext | tag16)>`, AES-256-GCM with a random 96-bit nonce and
 * AAD `rk1:<kid>:<table>.<column>`, which binds the value to its key id and to where it is stored.
 * Specified byte by byte in docs/ciphertext.md.
 */
export const rk1: Codec = {
  name: 'rk1',
  formatPrefix: PREFIX,

  deriveKey(fieldValue: string): DataKey {
    const material = Buffer.from(fieldValue, 'base64');
    if (material.length !== 32 || material.toString('base64') !== fieldValue.replace(/\s/g, '')) {
      throw new SecretFormatError('the rk1 data key must be 32 bytes in standard base64');
    }
    return { kid: keyIdOf(material), material };
  },

  encrypt(plaintext: Uint8Array, key: DataKey, where: FieldContext): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.material, nonce);
    cipher.setAAD(aad(key.kid, where));
    const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${key.kid}:${body.toString('base64url')}`;
  },

  decrypt(value: string, key: DataKey, where: FieldContext): Uint8Array {
    const parts = parse(value);
    if (!parts) throw new DecryptError(`value in ${where.table}.${where.column} is not an rk1 value`);
    if (parts.kid !== key.kid) {
      throw new DecryptError(
        `value in ${where.table}.${where.column} is under key id ${parts.kid}, not ${key.kid}`,
      );
    }
    const body = Buffer.from(parts.body, 'base64url');
    if (body.length < NONCE_BYTES + TAG_BYTES)
      throw new DecryptError(`value in ${where.table}.${where.column} is truncated`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.material, body.subarray(0, NONCE_BYTES));
      decipher.setAAD(aad(key.kid, where));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (cause) {
      throw new DecryptError(
        `value in ${where.table}.${where.column} fails authentication under key id ${key.kid}`,
        {
          cause: cause instanceof Error ? new Error(cause.message) : undefined,
        },
      );
    }
  },

  /**
   * By the key id in clear text, in O(1) per key: not `rk1:` at all is plaintext; an rk1 value whose
   * kid no key has is unknown (with its kid). The tag is checked on decrypt, not here.
   */
  classify(value: string, keys: readonly DataKey[]): Classification {
    const parts = parse(value);
    if (!parts) return value.startsWith(PREFIX) ? { kind: 'unknown' } : { kind: 'plaintext' };
    const key = keys.find((k) => k.kid === parts.kid);
    return key ? { kind: 'key', key } : { kind: 'unknown', kid: parts.kid };
  },

  sqlPrefix(key: DataKey): string {
    return `${PREFIX}${key.kid}:`;
  },
};

function parse(value: string): { kid: string; body: string } | undefined {
  if (!value.startsWith(PREFIX) || value.charAt(PREFIX.length + KID_LENGTH) !== ':') return undefined;
  const kid = value.slice(PREFIX.length, PREFIX.length + KID_LENGTH);
  const body = value.slice(PREFIX.length + KID_LENGTH + 1);
  if (!BODY.test(kid) || !BODY.test(body)) return undefined;
  return { kid, body };
}

function aad(kid: string, where: FieldContext): Buffer {
  return Buffer.from(`${PREFIX}${kid}:${where.table}.${where.column}`, 'utf8');
}
