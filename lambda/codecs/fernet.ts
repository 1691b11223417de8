import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { CodecName } from '../config.js';
import { DecryptError, SecretFormatError } from '../errors.js';
import { keyIdOf } from './key-id.js';
import type { Classification, Codec, DataKey } from './types.js';

// Fernet on node:crypto: the npm Fernet packages are unmaintained, and the spec is a page long.
const VERSION = 0x80;
const HEADER = 1 + 8 + 16; // version, timestamp, IV
const HMAC_BYTES = 32;
const MAX_CLOCK_SKEW_S = 60;
const TOKEN = /^[A-Za-z0-9_-]+={0,2}$/;

/** Options of the low-level Fernet functions; the spec's vectors fix the IV and the clock. */
export interface FernetOptions {
  /** Seconds since the epoch; defaults to now. */
  readonly now?: number;
  /** The 16-byte IV; random unless a test vector fixes it. */
  readonly iv?: Uint8Array;
  /** When set, tokens older than this many seconds are refused. */
  readonly ttlSec?: number;
}

/** The Fernet token of `plaintext` under a 32-byte key (signing key first, encryption key second). */
export function fernetEncrypt(plaintext: Uint8Array, key: Uint8Array, options: FernetOptions = {}): string {
  const iv = options.iv ?? randomBytes(16);
  const header = Buffer.alloc(9);
  header.writeUInt8(VERSION, 0);
  header.writeBigUInt64BE(BigInt(Math.floor(options.now ?? Date.now() / 1000)), 1);
  const cipher = createCipheriv('aes-128-cbc', key.subarray(16, 32), iv);
  const signed = Buffer.concat([header, iv, cipher.update(plaintext), cipher.final()]);
  const mac = createHmac('sha256', key.subarray(0, 16)).update(signed).digest();
  // URL-safe base64 with padding, as Python's urlsafe_b64encode writes it.
  return Buffer.concat([signed, mac]).toString('base64').replaceAll('+', '-').replaceAll('/', '_');
}

/** Whether the token's HMAC verifies under the key (format checked, nothing decrypted). */
export function fernetSignedBy(token: string, key: Uint8Array): boolean {
  const raw = decodeToken(token);
  return raw !== undefined && macMatches(raw, key);
}

/**
 * Verifies and decrypts a Fernet token as the spec says: version, HMAC (constant time), the TTL and
 * clock skew when a TTL is given, block size and padding.
 * @throws DecryptError naming what failed, never the token or the key.
 */
export function fernetDecrypt(token: string, key: Uint8Array, options: FernetOptions = {}): Uint8Array {
  const raw = decodeToken(token);
  if (!raw) throw new DecryptError('not a Fernet token');
  if (!macMatches(raw, key)) throw new DecryptError('Fernet token signature does not verify');
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const timestamp = Number(raw.readBigUInt64BE(1));
  if (options.ttlSec !== undefined) {
    if (timestamp + options.ttlSec < now) throw new DecryptError('Fernet token has expired');
    if (timestamp > now + MAX_CLOCK_SKEW_S) throw new DecryptError('Fernet token is from the future');
  }
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.subarray(16, 32), raw.subarray(9, HEADER));
    return Buffer.concat([decipher.update(raw.subarray(HEADER, raw.length - HMAC_BYTES)), decipher.final()]);
  } catch {
    throw new DecryptError('Fernet token padding is invalid');
  }
}

function decodeToken(token: string): Buffer | undefined {
  if (!TOKEN.test(token) || token.replace(/=+$/, '').length % 4 === 1) return undefined;
  const raw = Buffer.from(token, 'base64url');
  const body = raw.length - HEADER - HMAC_BYTES;
  if (raw.length === 0 || raw[0] !== VERSION || body < 16 || body % 16 !== 0) return undefined;
  return raw;
}

function macMatches(raw: Buffer, key: Uint8Array): boolean {
  const expected = createHmac('sha256', key.subarray(0, 16))
    .update(raw.subarray(0, raw.length - HMAC_BYTES))
    .digest();
  return timingSafeEqual(expected, raw.subarray(raw.length - HMAC_BYTES));
}

function fernetCodec(name: CodecName, toMaterial: (fieldValue: string) => Buffer): Codec {
  return {
    name,
    formatPrefix: undefined,
    deriveKey(fieldValue: string): DataKey {
      const material = toMaterial(fieldValue);
      return { kid: keyIdOf(material), material };
    },
    encrypt: (plaintext, key) => fernetEncrypt(plaintext, key.material),
    decrypt(value, key, where) {
      try {
        return fernetDecrypt(value, key.material);
      } catch (error) {
        throw new DecryptError(`value in ${where.table}.${where.column}: ${(error as Error).message}`);
      }
    },
    /** By which key's HMAC verifies; a value that is not a Fernet token at all is plaintext. */
    classify(value: string, keys: readonly DataKey[]): Classification {
      const raw = decodeToken(value);
      if (!raw) return { kind: 'plaintext' };
      const key = keys.find((k) => macMatches(raw, k.material));
      return key ? { kind: 'key', key } : { kind: 'unknown' };
    },
    sqlPrefix: () => undefined,
  };
}

/** Fernet with the field holding a standard Fernet key (URL-safe base64 of 32 bytes). */
export const fernet: Codec = fernetCodec('fernet', (fieldValue) => {
  const material = Buffer.from(fieldValue, 'base64url');
  if (material.length !== 32 || !TOKEN.test(fieldValue)) {
    throw new SecretFormatError('the Fernet data key must be 32 bytes in URL-safe base64');
  }
  return material;
});

/**
 * Fernet with the key derived as sqlalchemy-utils' FernetEngine derives it from any string secret
 * (Redash's REDASH_SECRET_KEY): `urlsafe_b64encode(sha256(secret))`, i.e. the 32 bytes of the hash.
 */
export const fernetSha256: Codec = fernetCodec('fernet-sha256', (fieldValue) =>
  createHash('sha256').update(fieldValue, 'utf8').digest(),
);
