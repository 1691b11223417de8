import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSecretValue, generateSecretValue } from '../../lambda/secret-template.js';

describe('the secret template', () => {
  it('generates each field kind with the right shape', () => {
    const value = JSON.parse(
      generateSecretValue({
        key: { kind: 'aes-256' },
        fernet: { kind: 'fernet' },
        token: { kind: 'token', length: 40, alphabet: 'abc' },
      }),
    );
    assert.equal(Buffer.from(value.key, 'base64').length, 32);
    assert.equal(Buffer.from(value.fernet, 'base64url').length, 32);
    assert.match(value.fernet, /^[A-Za-z0-9_-]{43}=$/);
    assert.match(value.token, /^[abc]{40}$/);
  });

  it('draws token characters without modulo bias', () => {
    // With a 3-letter alphabet, bytes 255 (>= 255 = 256 - 256 % 3) must be rejected.
    let calls = 0;
    const random = (n: number) => Buffer.alloc(n, calls++ === 0 ? 255 : 4);
    const value = JSON.parse(
      generateSecretValue({ t: { kind: 'token', length: 16, alphabet: 'abc' } }, {}, random),
    );
    assert.equal(value.t, 'b'.repeat(16));
  });

  it('carries over fields the template does not know', () => {
    const value = JSON.parse(
      generateSecretValue({ key: { kind: 'aes-256' } }, { key: 'old', dsn: 'postgres://x' }),
    );
    assert.equal(value.dsn, 'postgres://x');
    assert.notEqual(value.key, 'old');
  });

  it('names the field that does not match, never its value', () => {
    assert.throws(() => checkSecretValue('{"key":"c2hvcnQ="}', { key: { kind: 'aes-256' } }, 'AWSCURRENT'), {
      name: 'SecretFormatError',
      message: "AWSCURRENT does not match the template: field 'key' is not 32 bytes of base64",
    });
    assert.throws(
      () => checkSecretValue('hunter2', { key: { kind: 'aes-256' } }, 'AWSCURRENT'),
      (e: Error) => !e.message.includes('hunter2'),
    );
  });
});
