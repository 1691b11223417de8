import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fernet, fernetDecrypt, fernetEncrypt, fernetSha256 } from '../../../lambda/codecs/fernet.js';
import { dataKeyFromSecretString } from '../../../lambda/codecs/index.js';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../support/fixtures/${name}`, import.meta.url), 'utf8'));
const spec = {
  generate: fixture('fernet-spec/generate.json') as {
    token: string;
    now: string;
    iv: number[];
    src: string;
    secret: string;
  }[],
  verify: fixture('fernet-spec/verify.json') as {
    token: string;
    now: string;
    ttl_sec: number;
    src: string;
    secret: string;
  }[],
  invalid: fixture('fernet-spec/invalid.json') as {
    desc: string;
    token: string;
    now: string;
    ttl_sec: number;
    secret: string;
  }[],
};
const python = fixture('python-fernet.json') as {
  raw: { key: string; cases: { plaintext: string; token: string }[] };
  sqlalchemy_utils: { secret: string; cases: { plaintext: string; token: string }[] };
};
const seconds = (rfc3339: string) => Math.floor(Date.parse(rfc3339) / 1000);
const where = { table: 'data_sources', column: 'encrypted_options' };

describe('Fernet against the specification vectors', () => {
  it('generates the spec tokens byte for byte', () => {
    for (const v of spec.generate) {
      const key = Buffer.from(v.secret, 'base64url');
      assert.equal(
        fernetEncrypt(Buffer.from(v.src), key, { now: seconds(v.now), iv: Buffer.from(v.iv) }),
        v.token,
      );
    }
  });

  it('verifies the spec tokens', () => {
    for (const v of spec.verify) {
      const out = fernetDecrypt(v.token, Buffer.from(v.secret, 'base64url'), {
        now: seconds(v.now),
        ttlSec: v.ttl_sec,
      });
      assert.equal(Buffer.from(out).toString(), v.src);
    }
  });

  for (const v of spec.invalid) {
    it(`rejects a token: ${v.desc}`, () => {
      assert.throws(
        () =>
          fernetDecrypt(v.token, Buffer.from(v.secret, 'base64url'), {
            now: seconds(v.now),
            ttlSec: v.ttl_sec,
          }),
        { name: 'DecryptError' },
      );
    });
  }
});

describe('Fernet tokens written by Python', () => {
  it('decrypts tokens of a raw Fernet key', () => {
    const key = fernet.deriveKey(python.raw.key);
    for (const c of python.raw.cases)
      assert.equal(Buffer.from(fernet.decrypt(c.token, key, where)).toString(), c.plaintext);
  });

  it('decrypts tokens under the sqlalchemy-utils derivation of a string secret (Redash)', () => {
    const key = dataKeyFromSecretString(
      JSON.stringify({ secretKey: python.sqlalchemy_utils.secret }),
      'secretKey',
      'fernet-sha256',
    );
    for (const c of python.sqlalchemy_utils.cases) {
      assert.equal(Buffer.from(fernetSha256.decrypt(c.token, key, where)).toString(), c.plaintext);
    }
  });

  it('writes tokens that the same derivation reads back, padded as Python pads them', () => {
    const key = fernetSha256.deriveKey(python.sqlalchemy_utils.secret);
    const token = fernetSha256.encrypt(Buffer.from('abc'), key, where);
    assert.equal(token.length % 4, 0);
    assert.equal(Buffer.from(fernetSha256.decrypt(token, key, where)).toString(), 'abc');
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

  it('calls a token no key signed unknown, and anything else plaintext', () => {
    assert.deepEqual(fernetSha256.classify(token, [b], where), { kind: 'unknown' });
    assert.deepEqual(fernetSha256.classify('{"password":"x"}', [a], where), { kind: 'plaintext' });
    assert.deepEqual(fernetSha256.classify('', [a], where), { kind: 'plaintext' });
  });

  it('has no SQL prefix: Fernet carries no key id', () => {
    assert.equal(fernetSha256.sqlPrefix(a), undefined);
  });

  it('never puts the key or the plaintext in an error', () => {
    try {
      fernetSha256.decrypt(token, b, where);
      assert.fail('expected an error');
    } catch (error) {
      assert.match((error as Error).message, /signature does not verify/);
      assert.ok(!(error as Error).message.includes('key-b'));
    }
  });
});
