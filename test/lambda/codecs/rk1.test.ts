import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { rk1, rk1KeyIdOf } from '../../../lambda/codecs/rk1.js';

/** The worked example of docs/ciphertext.md (a public test key: bytes 0x00..0x1f). */
const VECTOR = {
  key: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
  kid: 'yxzwf67F',
  where: { table: 'data_sources', column: 'options' },
  aad: 'rk1:yxzwf67F:data_sources.options',
  nonce: Buffer.from([...Array(12).keys()].map((i) => 0xa0 + i)),
  plaintext: '{"password":"hunter2"}',
  value: 'rk1:yxzwf67F:oKGio6SlpqeoqaqrnToMTDa4ddAQAaXpJRK1sATJKyKwyv3-DsAxPsP6Lpsft20PaL8',
};
const key = rk1.deriveKey(VECTOR.key);
const OTHER_KEY = Buffer.alloc(32, 7).toString('base64');
const other = rk1.deriveKey(OTHER_KEY);
const where = VECTOR.where;

/** The value with one byte of its body flipped, re-encoded canonically. */
function flipByte(value: string, index: number): string {
  const head = value.slice(0, 13);
  const body = Buffer.from(value.slice(13), 'base64url');
  body[index] = (body[index] ?? 0) ^ 0x01;
  return head + body.toString('base64url');
}

/** Every spelling of a secret that could leak into a message. */
function spellings(secret: string | Buffer): string[] {
  const bytes = typeof secret === 'string' ? Buffer.from(secret) : secret;
  return [
    bytes.toString('utf8'),
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
  ].filter((s) => s.length >= 6);
}

function assertNoSecretIn(error: unknown, secrets: (string | Buffer)[]): void {
  assert.ok(error instanceof Error);
  const text = `${error.message} ${String(error.cause ?? '')} ${error.stack ?? ''}`;
  for (const secret of secrets)
    for (const s of spellings(secret))
      assert.ok(!text.includes(s), `message reveals a secret: ${error.message}`);
}

describe('rk1 worked example', () => {
  it('derives the key id of the specification', () => {
    assert.equal(key.kid, VECTOR.kid);
  });

  it('decrypts the worked example of the specification', () => {
    assert.equal(Buffer.from(rk1.decrypt(VECTOR.value, key, where)).toString(), VECTOR.plaintext);
  });

  it('is AES-256-GCM of the plaintext with the documented nonce and associated data', async () => {
    // Rebuilt with WebCrypto rather than the codec, so the example checks the spec, not itself.
    const subtle = globalThis.crypto.subtle;
    const aesKey = await subtle.importKey('raw', Buffer.from(VECTOR.key, 'base64'), 'AES-GCM', false, [
      'encrypt',
    ]);
    const sealed = await subtle.encrypt(
      { name: 'AES-GCM', iv: VECTOR.nonce, additionalData: Buffer.from(VECTOR.aad), tagLength: 128 },
      aesKey,
      Buffer.from(VECTOR.plaintext),
    );
    const body = Buffer.concat([VECTOR.nonce, Buffer.from(sealed)]).toString('base64url');
    assert.equal(`rk1:${VECTOR.kid}:${body}`, VECTOR.value);
  });
});

describe('rk1 key ids', () => {
  it('derives the key id one-way: 6 bytes of HMAC-SHA256(key, "rekey key id v1") as base64url', () => {
    const mac = createHmac('sha256', Buffer.from(VECTOR.key, 'base64')).update('rekey key id v1').digest();
    assert.equal(mac.subarray(0, 6).toString('hex'), 'cb1cf07faec5', 'the bytes docs/ciphertext.md shows');
    assert.equal(key.kid, mac.subarray(0, 6).toString('base64url'));
  });

  it('gives every key an id of exactly 8 base64url characters', () => {
    for (let fill = 0; fill < 64; fill++) {
      assert.match(rk1.deriveKey(Buffer.alloc(32, fill).toString('base64')).kid, /^[A-Za-z0-9_-]{8}$/);
    }
  });

  it('gives the same key the same id every time, and another key another id', () => {
    assert.equal(rk1.deriveKey(VECTOR.key).kid, key.kid);
    assert.notEqual(other.kid, key.kid);
  });

  it('writes the key id in clear text as the SQL prefix', () => {
    assert.equal(rk1.sqlPrefix(key), `rk1:${VECTOR.kid}:`);
    assert.equal(rk1.formatPrefix, 'rk1:');
    assert.equal(rk1KeyIdOf(VECTOR.value), VECTOR.kid);
    assert.equal(rk1KeyIdOf('hunter2'), undefined);
  });
});

describe('rk1 encryption', () => {
  it('round-trips text and bytes, empty included, with a fresh nonce each time', () => {
    for (const plaintext of ['', 'x', 'café ☕', '\u0000\u00ff'.repeat(500)]) {
      const a = rk1.encrypt(Buffer.from(plaintext), key, where);
      const b = rk1.encrypt(Buffer.from(plaintext), key, where);
      assert.notEqual(a, b);
      assert.ok(a.startsWith(rk1.sqlPrefix(key) as string));
      assert.equal(Buffer.from(rk1.decrypt(b, key, where)).toString(), plaintext);
    }
  });

  it('writes base64url without padding after the prefix', () => {
    const value = rk1.encrypt(Buffer.from('four'), key, where);
    assert.match(value, /^rk1:[A-Za-z0-9_-]{8}:[A-Za-z0-9_-]+$/);
    assert.equal(Buffer.from(value.slice(13), 'base64url').length, 12 + 4 + 16);
  });

  it('refuses a value moved to another column or another table', () => {
    for (const elsewhere of [
      { table: 'data_sources', column: 'extra' },
      { table: 'alerts', column: 'options' },
      // The separator is part of the AAD: "a.b" + "c" differs from "a" + "b.c".
      { table: 'data_sources.options', column: '' },
    ]) {
      assert.throws(() => rk1.decrypt(VECTOR.value, key, elsewhere), {
        name: 'DecryptError',
        message: /fails authentication/,
      });
    }
  });

  it('refuses a value whose nonce, ciphertext or tag was tampered with', () => {
    for (const index of [0, 11, 12, 20, 49]) {
      assert.throws(() => rk1.decrypt(flipByte(VECTOR.value, index), key, where), {
        name: 'DecryptError',
        message: /fails authentication/,
      });
    }
  });

  it('refuses a value relabelled with another key id', () => {
    const relabelled = `rk1:${other.kid}:${VECTOR.value.slice(13)}`;
    assert.throws(() => rk1.decrypt(relabelled, other, where), { name: 'DecryptError' });
    assert.throws(() => rk1.decrypt(relabelled, key, where), {
      name: 'DecryptError',
      message: new RegExp(`under key id ${other.kid}, not ${key.kid}`),
    });
  });

  it('refuses truncated, padded or non-canonical bodies as not rk1', () => {
    const body = VECTOR.value.slice(13);
    for (const broken of [
      'rk1:',
      `rk1:${VECTOR.kid}:`,
      `rk1:${VECTOR.kid}:${body.slice(0, 30)}`,
      `rk1:${VECTOR.kid}:${body}=`,
      `rk1:${VECTOR.kid}:${body.slice(0, -1)}9`, // same bytes, stray low bits set
      `rk1:${VECTOR.kid}x:${body}`,
    ]) {
      assert.throws(() => rk1.decrypt(broken, key, where), {
        name: 'DecryptError',
        message: /is not an rk1 value/,
      });
    }
  });
});

describe('rk1 per-value work', () => {
  it('draws a different nonce for every value, across many refills of the random pool', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const body = Buffer.from(rk1.encrypt(Buffer.from('x'), key, where).slice(13), 'base64url');
      nonces.add(body.subarray(0, 12).toString('hex'));
    }
    assert.equal(nonces.size, 5000);
  });

  it('binds each value to its own key and place when many keys and places alternate', () => {
    const keys = [key, other];
    const places = Array.from({ length: 20 }, (_, i) => ({ table: `t${i % 7}`, column: `c${i}` }));
    const sealed = places.flatMap((place, i) =>
      keys.map((k) => ({ k, place, value: rk1.encrypt(Buffer.from(`v${i}`), k, place) })),
    );
    sealed.forEach(({ k, place, value }, i) => {
      assert.equal(Buffer.from(rk1.decrypt(value, k, place)).toString(), `v${Math.floor(i / 2)}`);
      const elsewhere = places[(places.indexOf(place) + 1) % places.length] as typeof place;
      assert.throws(() => rk1.decrypt(value, k, elsewhere), { message: /fails authentication/ });
    });
  });

  it('takes a body as canonical exactly when re-encoding its bytes gives it back', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let length = 28; length <= 33; length++) {
      const base = Buffer.from(
        rk1.encrypt(Buffer.alloc(length - 28, 1), key, where).slice(13),
        'base64url',
      ).toString('base64url');
      for (const text of [...alphabet].flatMap((c) => [base.slice(0, -1) + c, base + c])) {
        const canonical = Buffer.from(text, 'base64url').toString('base64url') === text;
        assert.equal(rk1KeyIdOf(`rk1:${key.kid}:${text}`) !== undefined, canonical, text);
      }
    }
  });
});

describe('rk1 classification', () => {
  it('finds the key whose id the value carries and which opens it', () => {
    const found = rk1.classify(VECTOR.value, [other, key], where);
    assert.equal(found.kind, 'key');
    assert.equal(found.kind === 'key' && found.key.kid, VECTOR.kid);
    // Opening the value is how the key is told, so the plaintext comes with it (no second decrypt).
    assert.equal(found.kind === 'key' && Buffer.from(found.opened ?? []).toString(), VECTOR.plaintext);
  });

  it('calls a value whose key id no key has unknown, with its key id', () => {
    assert.deepEqual(rk1.classify(VECTOR.value, [other], where), { kind: 'unknown', kid: VECTOR.kid });
    assert.deepEqual(rk1.classify(VECTOR.value, [], where), { kind: 'unknown', kid: VECTOR.kid });
  });

  it('calls a value whose key id matches but whose tag fails unknown, with its key id', () => {
    assert.deepEqual(rk1.classify(flipByte(VECTOR.value, 30), [key], where), {
      kind: 'unknown',
      kid: VECTOR.kid,
    });
    assert.deepEqual(rk1.classify(VECTOR.value, [key], { table: 'data_sources', column: 'extra' }), {
      kind: 'unknown',
      kid: VECTOR.kid,
    });
  });

  it('calls a malformed value that starts with rk1: unknown, without a key id', () => {
    for (const broken of ['rk1:', 'rk1:broken', `rk1:${VECTOR.kid}:@@@`, VECTOR.value.slice(0, 30)]) {
      assert.deepEqual(rk1.classify(broken, [key], where), { kind: 'unknown' }, broken);
    }
  });

  it('calls anything that does not start with rk1: plaintext', () => {
    for (const plain of ['hunter2', '', '{"rk1:":1}', 'RK1:yxzwf67F:abc', ` ${VECTOR.value}`]) {
      assert.deepEqual(rk1.classify(plain, [key], where), { kind: 'plaintext' });
    }
  });
});

describe('rk1 data keys', () => {
  it('takes 32 bytes of standard base64, forgiving surrounding whitespace', () => {
    assert.equal(rk1.deriveKey(`${VECTOR.key}\n`).kid, VECTOR.kid);
    assert.deepEqual(Buffer.from(key.material), Buffer.from(VECTOR.key, 'base64'));
  });

  it('refuses anything else as a SecretFormatError that does not echo it', () => {
    const bad = [
      'c2VjcmV0', // 6 bytes
      Buffer.alloc(31, 9).toString('base64'),
      Buffer.alloc(33, 9).toString('base64'),
      Buffer.alloc(32, 0xfb).toString('base64url'), // URL-safe alphabet
      Buffer.alloc(32, 0xfb).toString('base64').replace('=', ''), // unpadded
      `${VECTOR.key.slice(0, 20)} ${VECTOR.key.slice(20)}`,
      'not base64 at all, but long enough to be 32 bytes maybe?',
    ];
    for (const value of bad) {
      assert.throws(
        () => rk1.deriveKey(value),
        (e: Error) => {
          assert.equal(e.name, 'SecretFormatError');
          assert.match(e.message, /32 bytes in standard base64/);
          assertNoSecretIn(e, [value]);
          return true;
        },
      );
    }
  });
});

describe('rk1 errors', () => {
  it('never put the key or the plaintext in a message', () => {
    const attempts: (() => unknown)[] = [
      () => rk1.decrypt(VECTOR.value, other, where),
      () => rk1.decrypt(`rk1:${other.kid}:${VECTOR.value.slice(13)}`, other, where),
      () => rk1.decrypt(flipByte(VECTOR.value, 30), key, where),
      () => rk1.decrypt(VECTOR.value, key, { table: 't', column: 'c' }),
      () => rk1.decrypt(VECTOR.plaintext, key, where),
      () => rk1.deriveKey(VECTOR.key.slice(1)),
    ];
    for (const attempt of attempts) {
      assert.throws(attempt, (e: Error) => {
        assertNoSecretIn(e, [
          Buffer.from(VECTOR.key, 'base64'),
          VECTOR.key.slice(1),
          Buffer.from(OTHER_KEY, 'base64'),
          VECTOR.plaintext,
          'hunter2',
        ]);
        return true;
      });
    }
  });
});
