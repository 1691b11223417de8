import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fernet, fernetDecrypt, fernetEncrypt, fernetSha256 } from '../../../lambda/codecs/fernet.js';
import { dataKeyFromSecretString } from '../../../lambda/codecs/index.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../support/fixtures/${name}`, import.meta.url), 'utf8'));

interface GenerateVector {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}
interface VerifyVector {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}
interface InvalidVector {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}
interface PythonCases {
  cases: { plaintext: string; token: string }[];
}

const spec = {
  generate: fixture('fernet-spec/generate.json') as GenerateVector[],
  verify: fixture('fernet-spec/verify.json') as VerifyVector[],
  invalid: fixture('fernet-spec/invalid.json') as InvalidVector[],
};
const python = fixture('python-fernet.json') as {
  raw: PythonCases & { key: string };
  sqlalchemy_utils: PythonCases & { secret: string };
};
/** The key sqlalchemy-utils derives from the fixture's secret, as Python prints it (docs/ciphertext.md). */
const SQLALCHEMY_UTILS_KEY = 'saO6z1XUje5pbnlnwbuBD5YBSu-dlG8JemVykbpIBpo=';

const seconds = (rfc3339: string) => Math.floor(Date.parse(rfc3339) / 1000);
const keyOf = (secret: string) => Buffer.from(secret, 'base64url');
const where = { table: 'data_sources', column: 'encrypted_options' };
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

/** Why each invalid vector must fail: the check that catches it, not merely some check. */
const EXPECTED_REASON: Record<string, RegExp> = {
  'incorrect mac': /signature does not verify/,
  'too short': /not a Fernet token/,
  'invalid base64': /not a Fernet token/,
  'payload size not multiple of block size': /not a Fernet token/,
  'payload padding error': /padding is invalid/,
  'far-future TS (unacceptable clock skew)': /from the future/,
  'expired TTL': /expired/,
  'incorrect IV (causes padding error)': /padding is invalid/,
};

describe('Fernet against the specification vectors', () => {
  it('has every vector of the specification to run', () => {
    assert.equal(spec.generate.length, 1);
    assert.equal(spec.verify.length, 1);
    assert.deepEqual(spec.invalid.map((v) => v.desc).sort(), Object.keys(EXPECTED_REASON).sort());
  });

  for (const v of spec.generate) {
    it(`generates the spec token for '${v.src}' byte for byte, given its IV and time`, () => {
      const token = fernetEncrypt(Buffer.from(v.src), keyOf(v.secret), {
        now: seconds(v.now),
        iv: Buffer.from(v.iv),
      });
      assert.equal(token, v.token);
    });
  }

  for (const v of spec.verify) {
    it(`verifies the spec token for '${v.src}' within its TTL`, () => {
      const out = fernetDecrypt(v.token, keyOf(v.secret), { now: seconds(v.now), ttlSec: v.ttl_sec });
      assert.equal(text(out), v.src);
    });
  }

  for (const v of spec.invalid) {
    it(`rejects the spec's invalid token: ${v.desc}`, () => {
      assert.throws(
        () => fernetDecrypt(v.token, keyOf(v.secret), { now: seconds(v.now), ttlSec: v.ttl_sec }),
        {
          name: 'DecryptError',
          message: EXPECTED_REASON[v.desc] ?? /./,
        },
      );
    });
  }

  it('reads expired and far-future tokens when no TTL is given, as stored data is read', () => {
    for (const desc of ['expired TTL', 'far-future TS (unacceptable clock skew)']) {
      const v = spec.invalid.find((x) => x.desc === desc);
      assert.ok(v);
      assert.doesNotThrow(() => fernetDecrypt(v.token, keyOf(v.secret), { now: seconds(v.now) }));
    }
  });

  it('accepts a token within the allowed minute of clock skew, and one at the very end of its TTL', () => {
    const v = spec.generate[0];
    assert.ok(v);
    const made = seconds(v.now);
    assert.doesNotThrow(() => fernetDecrypt(v.token, keyOf(v.secret), { now: made - 60, ttlSec: 60 }));
    assert.doesNotThrow(() => fernetDecrypt(v.token, keyOf(v.secret), { now: made + 60, ttlSec: 60 }));
    assert.throws(() => fernetDecrypt(v.token, keyOf(v.secret), { now: made - 61, ttlSec: 60 }), /future/);
    assert.throws(() => fernetDecrypt(v.token, keyOf(v.secret), { now: made + 61, ttlSec: 60 }), /expired/);
  });
});

describe('Fernet tokens written by Python cryptography', () => {
  it('decrypts tokens of a raw Fernet key', () => {
    const key = fernet.deriveKey(python.raw.key);
    for (const c of python.raw.cases) assert.equal(text(fernet.decrypt(c.token, key, where)), c.plaintext);
  });

  it('decrypts tokens under the sqlalchemy-utils derivation of a string secret, as Redash writes them', () => {
    const key = dataKeyFromSecretString(
      JSON.stringify({ REDASH_SECRET_KEY: python.sqlalchemy_utils.secret }),
      'REDASH_SECRET_KEY',
      'fernet-sha256',
    );
    for (const c of python.sqlalchemy_utils.cases) {
      assert.equal(text(fernetSha256.decrypt(c.token, key, where)), c.plaintext);
    }
  });

  it('derives from a string secret exactly the Fernet key Python derives', () => {
    const derived = fernetSha256.deriveKey(python.sqlalchemy_utils.secret);
    const asRawKey = fernet.deriveKey(SQLALCHEMY_UTILS_KEY);
    assert.deepEqual(Buffer.from(derived.material), Buffer.from(asRawKey.material));
    assert.equal(derived.kid, asRawKey.kid, 'the same key bytes get the same key id under both names');
    const sha = createHash('sha256').update(python.sqlalchemy_utils.secret, 'utf8').digest();
    assert.equal(sha.toString('base64url'), SQLALCHEMY_UTILS_KEY.replace('=', ''));
  });

  it('hashes the secret as UTF-8, so non-ASCII secrets derive as Python derives them', () => {
    const secret = 'clé secrète ☕';
    const expected = createHash('sha256').update(Buffer.from(secret, 'utf8')).digest();
    assert.deepEqual(Buffer.from(fernetSha256.deriveKey(secret).material), expected);
  });

  it('accepts tokens with their base64 padding removed', () => {
    const key = fernet.deriveKey(python.raw.key);
    for (const c of python.raw.cases) {
      assert.equal(text(fernet.decrypt(c.token.replace(/=+$/, ''), key, where)), c.plaintext);
    }
  });

  it('writes tokens padded as Python pads them, which the same derivation reads back', () => {
    const key = fernetSha256.deriveKey(python.sqlalchemy_utils.secret);
    for (const plaintext of ['', 'abc', 'x'.repeat(17)]) {
      const token = fernetSha256.encrypt(Buffer.from(plaintext), key, where);
      assert.match(token, /^gAAAAA[A-Za-z0-9_-]+={0,2}$/);
      assert.equal(token.length % 4, 0);
      assert.equal(text(fernetSha256.decrypt(token, key, where)), plaintext);
    }
  });
});

describe('Fernet data keys', () => {
  it('takes a standard Fernet key, padded or not', () => {
    const padded = fernet.deriveKey(python.raw.key);
    assert.equal(fernet.deriveKey(python.raw.key.replace(/=+$/, '')).kid, padded.kid);
    assert.match(padded.kid, /^[A-Za-z0-9_-]{8}$/);
  });

  it('refuses a Fernet key that is not 32 bytes of URL-safe base64, without echoing it', () => {
    const bad = [
      'c2VjcmV0LWtleQ==',
      Buffer.alloc(32, 0xfb).toString('base64'), // standard alphabet: '+' and '/'
      Buffer.alloc(31, 9).toString('base64url'),
      'a plain passphrase that is not a key',
    ];
    for (const value of bad) {
      assert.throws(
        () => fernet.deriveKey(value),
        (e: Error) =>
          e.name === 'SecretFormatError' &&
          /32 bytes in URL-safe base64/.test(e.message) &&
          !e.message.includes(value),
      );
    }
  });

  it('refuses an empty secret to derive from', () => {
    assert.throws(() => fernetSha256.deriveKey(''), { name: 'SecretFormatError' });
  });
});

describe('classifying Fernet values', () => {
  const a = fernetSha256.deriveKey('key-a');
  const b = fernetSha256.deriveKey('key-b');
  const token = fernetSha256.encrypt(Buffer.from('x'), a, where);

  it('finds the key whose HMAC verifies', () => {
    const found = fernetSha256.classify(token, [b, a], where);
    assert.equal(found.kind === 'key' && found.key.kid, a.kid);
  });

  it('calls a token that no key signed unknown, without a key id', () => {
    assert.deepEqual(fernetSha256.classify(token, [b], where), { kind: 'unknown' });
    const forged = `${token.slice(0, 60)}${token[60] === 'A' ? 'B' : 'A'}${token.slice(61)}`;
    assert.deepEqual(fernetSha256.classify(forged, [a], where), { kind: 'unknown' });
  });

  it('calls anything that does not decode as a Fernet token plaintext', () => {
    for (const plain of ['{"password":"x"}', '', 'gAAAAA', 'hunter2', token.slice(0, 40), `${token}!`]) {
      assert.deepEqual(fernetSha256.classify(plain, [a], where), { kind: 'plaintext' }, plain);
    }
  });

  it('has no SQL or format prefix: Fernet carries no key id', () => {
    assert.equal(fernetSha256.sqlPrefix(a), undefined);
    assert.equal(fernetSha256.formatPrefix, undefined);
    assert.equal(fernet.formatPrefix, undefined);
  });
});

describe('Fernet errors', () => {
  it('never put the key, the secret or the plaintext in a message', () => {
    const secret = 'redash-secret-key-b';
    const key = fernetSha256.deriveKey(secret);
    const plaintext = '{"password":"hunter2"}';
    const token = fernetSha256.encrypt(Buffer.from(plaintext), fernetSha256.deriveKey('key-a'), where);
    const attempts: (() => unknown)[] = [
      () => fernetSha256.decrypt(token, key, where),
      () => fernetSha256.decrypt(plaintext, key, where),
      () => fernetDecrypt(token, key.material, { ttlSec: 1, now: 0 }),
      () => fernet.deriveKey(secret),
    ];
    const material = Buffer.from(key.material);
    const forbidden = [
      secret,
      plaintext,
      'hunter2',
      material.toString('base64'),
      material.toString('base64url'),
      material.toString('hex'),
    ];
    for (const attempt of attempts) {
      assert.throws(attempt, (e: Error) => {
        const all = `${e.message} ${String(e.cause ?? '')}`;
        for (const s of forbidden) assert.ok(!all.includes(s), `message reveals a secret: ${e.message}`);
        return true;
      });
    }
  });

  it('name the table and column and the reason', () => {
    const token = fernetSha256.encrypt(Buffer.from('x'), fernetSha256.deriveKey('key-a'), where);
    assert.throws(() => fernetSha256.decrypt(token, fernetSha256.deriveKey('key-b'), where), {
      name: 'DecryptError',
      message: 'value in data_sources.encrypted_options: Fernet token signature does not verify',
    });
  });
});
