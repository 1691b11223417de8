import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { rk1 } from '../../../lambda/codecs/rk1.js';

/** The worked example of docs/ciphertext.md. */
const VECTOR = {
  key: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
  kid: 'yxzwf67F',
  where: { table: 'data_sources', column: 'options' },
  plaintext: '{"password":"hunter2"}',
  value: 'rk1:yxzwf67F:oKGio6SlpqeoqaqrnToMTDa4ddAQAaXpJRK1sATJKyKwyv3-DsAxPsP6Lpsft20PaL8',
};
const key = rk1.deriveKey(VECTOR.key);
const other = rk1.deriveKey(Buffer.alloc(32, 7).toString('base64'));

describe('rk1', () => {
  it('decrypts the worked example of the specification', () => {
    assert.equal(key.kid, VECTOR.kid);
    assert.equal(Buffer.from(rk1.decrypt(VECTOR.value, key, VECTOR.where)).toString(), VECTOR.plaintext);
  });

  it('derives the key id one-way from the key, as the specification says', () => {
    const expected = createHmac('sha256', Buffer.from(VECTOR.key, 'base64'))
      .update('rekey key id v1')
      .digest();
    assert.equal(key.kid, expected.subarray(0, 6).toString('base64url'));
    assert.equal(rk1.deriveKey(VECTOR.key).kid, key.kid, 'the same key always has the same id');
    assert.notEqual(other.kid, key.kid);
  });

  it('round-trips with a fresh nonce each time', () => {
    const a = rk1.encrypt(Buffer.from('x'), key, VECTOR.where);
    const b = rk1.encrypt(Buffer.from('x'), key, VECTOR.where);
    assert.notEqual(a, b);
    assert.ok(a.startsWith(rk1.sqlPrefix(key) as string));
    assert.equal(Buffer.from(rk1.decrypt(b, key, VECTOR.where)).toString(), 'x');
  });

  it('refuses a value moved to another table or column', () => {
    assert.throws(() => rk1.decrypt(VECTOR.value, key, { table: 'data_sources', column: 'extra' }), {
      name: 'DecryptError',
      message: /fails authentication/,
    });
  });

  it('refuses a tampered value', () => {
    const last = VECTOR.value.at(-1) === 'A' ? 'B' : 'A';
    assert.throws(() => rk1.decrypt(VECTOR.value.slice(0, -1) + last, key, VECTOR.where), {
      name: 'DecryptError',
    });
  });

  it('classifies by key id: known key, unknown key id, plaintext', () => {
    assert.equal(rk1.classify(VECTOR.value, [other, key], VECTOR.where).kind, 'key');
    assert.deepEqual(rk1.classify(VECTOR.value, [other], VECTOR.where), { kind: 'unknown', kid: VECTOR.kid });
    assert.deepEqual(rk1.classify('hunter2', [key], VECTOR.where), { kind: 'plaintext' });
    assert.deepEqual(rk1.classify('rk1:broken', [key], VECTOR.where), { kind: 'unknown' });
  });

  it('refuses a data key that is not 32 bytes of base64, without echoing it', () => {
    assert.throws(
      () => rk1.deriveKey('c2VjcmV0'),
      (e: Error) => e.name === 'SecretFormatError' && !e.message.includes('c2VjcmV0'),
    );
  });

  it('never puts the key or the plaintext in an error', () => {
    try {
      rk1.decrypt(VECTOR.value, other, VECTOR.where);
      assert.fail('expected an error');
    } catch (error) {
      const text = `${(error as Error).message} ${String((error as Error).cause ?? '')}`;
      for (const secret of [VECTOR.key, VECTOR.plaintext, 'hunter2']) assert.ok(!text.includes(secret));
    }
  });
});
