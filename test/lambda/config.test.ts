import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig, readConfig } from '../../lambda/config.js';

const VALID = {
  secretTemplate: { encryptionKey: { kind: 'aes-256' }, cookie: { kind: 'token', length: 32 } },
  dataKeyField: 'encryptionKey',
  storedFields: [{ table: 'data_sources', id: 'id', columns: ['options'] }],
  dataApi: {
    resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:app',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf',
    database: 'app',
    engine: 'postgres',
  },
};

const withChange = (change: (c: Record<string, unknown>) => void) => {
  const c = structuredClone(VALID) as unknown as Record<string, unknown>;
  change(c);
  return c;
};

describe('configuration', () => {
  it('applies the documented defaults and freezes the result', () => {
    const c = parseConfig(VALID);
    assert.equal(c.codec, 'rk1');
    assert.deepEqual(c.paging, { maxRows: 5000, maxBytes: 768 * 1024 });
    assert.deepEqual(c.pacing, { maxConcurrentStatements: 4, backoffLatencyFactor: 2 });
    assert.deepEqual(c.policies, { plaintext: 'fail', undecryptable: 'fail' });
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.storedFields[0]));
  });

  it('refuses SQL in a table or column name and names the field', () => {
    assert.throws(
      () =>
        parseConfig(
          withChange(
            (c) =>
              (((c.storedFields as { table: string }[])[0] as { table: string }).table =
                'x; DROP TABLE users'),
          ),
        ),
      {
        name: 'ConfigError',
        message: /^config: storedFields\.0\.table must be a plain SQL identifier.*got 'x; DROP TABLE users'$/,
      },
    );
    assert.throws(
      () =>
        parseConfig(
          withChange(
            (c) =>
              (((c.storedFields as { columns: string[] }[])[0] as { columns: string[] }).columns = ['a"b']),
          ),
        ),
      { message: /storedFields\.0\.columns\.0 must be a plain SQL identifier/ },
    );
  });

  it('refuses a data key field that is not in the template', () => {
    assert.throws(() => parseConfig({ ...VALID, dataKeyField: 'nope' }), {
      message: /dataKeyField names 'nope'/,
    });
  });

  it('refuses a codec that does not fit the data key kind', () => {
    assert.throws(() => parseConfig({ ...VALID, codec: 'fernet' }), {
      message: /codec 'fernet' needs a data key of kind 'fernet', got 'aes-256'/,
    });
  });

  it('refuses an unknown field instead of ignoring it', () => {
    assert.throws(() => parseConfig({ ...VALID, pagesize: 10 }), { name: 'ConfigError' });
  });

  it('refuses a page size that is not a positive integer', () => {
    assert.throws(() => parseConfig({ ...VALID, paging: { maxRows: 0 } }), { message: /paging\.maxRows/ });
  });

  it('refuses a schema with engine mysql', () => {
    assert.throws(
      () =>
        parseConfig(
          withChange((c) => {
            (c.dataApi as { engine: string }).engine = 'mysql';
            (c.storedFields as { schema?: string }[])[0] = {
              ...(c.storedFields as object[])[0],
              schema: 'app',
            };
          }),
        ),
      { message: /storedFields\.0\.schema is not supported with engine mysql/ },
    );
  });

  it('reads REKEY_CONFIG and says what is wrong with it', () => {
    assert.equal(readConfig({ REKEY_CONFIG: JSON.stringify(VALID) }).dataApi.database, 'app');
    assert.throws(() => readConfig({}), {
      message: /REKEY_CONFIG must hold the rekey configuration as JSON, got nothing/,
    });
    assert.throws(() => readConfig({ REKEY_CONFIG: '{' }), { message: 'REKEY_CONFIG must be valid JSON' });
    assert.throws(() => readConfig({ REKEY_CONFIG: '{}' }), { message: /^REKEY_CONFIG: secretTemplate/ });
  });
});
