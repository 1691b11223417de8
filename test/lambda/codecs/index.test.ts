import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CodecName, codecFor, dataKeyFromSecretString } from '../../../lambda/codecs/index.js';

const RK1_KEY = Buffer.alloc(32, 5).toString('base64');
const FERNET_KEY = Buffer.alloc(32, 6).toString('base64url');
const TOKEN_SECRET = 'a-string-secret-like-REDASH_SECRET_KEY';

/** Asserts a SecretFormatError that names the field and shows none of the given secrets. */
function formatError(field: string, secrets: string[]) {
  return (e: Error): boolean => {
    assert.equal(e.name, 'SecretFormatError');
    assert.ok(e.message.includes(`'${field}'`), `names the field: ${e.message}`);
    const all = `${e.message} ${String(e.cause ?? '')}`;
    for (const s of secrets) assert.ok(!all.includes(s), `reveals a secret: ${e.message}`);
    return true;
  };
}

describe('codecFor', () => {
  it('returns the codec of each configured name', () => {
    for (const name of ['rk1', 'fernet', 'fernet-sha256'] as const) assert.equal(codecFor(name).name, name);
  });

  it('refuses a name that is not a codec, naming the choices', () => {
    for (const name of ['aes', 'toString', '__proto__']) {
      assert.throws(() => codecFor(name as CodecName), {
        name: 'ConfigError',
        message: `codec must be one of rk1, fernet, fernet-sha256, got '${name}'`,
      });
    }
  });
});

describe('dataKeyFromSecretString', () => {
  it('derives the data key of each codec from its field of the secret JSON', () => {
    const secret = JSON.stringify({ encryptionKey: RK1_KEY, fernetKey: FERNET_KEY, secretKey: TOKEN_SECRET });
    assert.equal(
      dataKeyFromSecretString(secret, 'encryptionKey', 'rk1').kid,
      codecFor('rk1').deriveKey(RK1_KEY).kid,
    );
    assert.equal(
      dataKeyFromSecretString(secret, 'fernetKey', 'fernet').kid,
      codecFor('fernet').deriveKey(FERNET_KEY).kid,
    );
    assert.equal(
      dataKeyFromSecretString(secret, 'secretKey', 'fernet-sha256').kid,
      codecFor('fernet-sha256').deriveKey(TOKEN_SECRET).kid,
    );
  });

  it('refuses a value that is not JSON without quoting it', () => {
    const notJson = `encryptionKey=${RK1_KEY}`;
    assert.throws(
      () => dataKeyFromSecretString(notJson, 'encryptionKey', 'rk1'),
      formatError('encryptionKey', [RK1_KEY, notJson]),
    );
  });

  it('refuses JSON that is not an object', () => {
    for (const value of ['null', '[1]', `"${RK1_KEY}"`, '42']) {
      assert.throws(
        () => dataKeyFromSecretString(value, 'encryptionKey', 'rk1'),
        formatError('encryptionKey', [RK1_KEY]),
      );
    }
  });

  it('refuses a missing, empty, non-string or inherited field, naming it', () => {
    for (const [value, field] of [
      [{ other: RK1_KEY }, 'encryptionKey'],
      [{ encryptionKey: '' }, 'encryptionKey'],
      [{ encryptionKey: 42 }, 'encryptionKey'],
      [{ encryptionKey: { kind: 'aes-256' } }, 'encryptionKey'],
      [{ encryptionKey: RK1_KEY }, 'toString'],
    ] as const) {
      assert.throws(
        () => dataKeyFromSecretString(JSON.stringify(value), field, 'rk1'),
        formatError(field, [RK1_KEY]),
      );
    }
  });

  it('refuses a field that is not a key of the codec, naming the field and the codec but not the value', () => {
    const secret = JSON.stringify({ encryptionKey: TOKEN_SECRET });
    assert.throws(
      () => dataKeyFromSecretString(secret, 'encryptionKey', 'rk1'),
      (e: Error) => {
        formatError('encryptionKey', [TOKEN_SECRET])(e);
        assert.match(e.message, /holds no usable rk1 key: the rk1 data key must be 32 bytes/);
        return true;
      },
    );
    assert.throws(
      () => dataKeyFromSecretString(secret, 'encryptionKey', 'fernet'),
      formatError('encryptionKey', [TOKEN_SECRET]),
    );
  });
});
