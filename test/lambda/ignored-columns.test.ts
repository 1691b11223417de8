import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../lambda/config.js';

const base = {
  secretTemplate: { encryptionKey: { kind: 'aes-256' } },
  dataKeyField: 'encryptionKey',
  storedFields: [{ table: 'data_sources', id: 'id', columns: ['options'] }],
  dataApi: {
    resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:app',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf',
    database: 'app',
    engine: 'postgres',
  },
};

describe('ignoredColumns in the config', () => {
  it('takes columns left out knowingly, each with a reason, and is optional', () => {
    const c = parseConfig({
      ...base,
      ignoredColumns: [{ table: 'exports', schema: 'audit', column: 'body', reason: 'expire after 7 days' }],
    });
    assert.deepEqual(c.ignoredColumns, [
      { table: 'exports', schema: 'audit', column: 'body', reason: 'expire after 7 days' },
    ]);
    assert.equal(parseConfig(base).ignoredColumns, undefined);
  });

  it('wants a reason that says something', () => {
    assert.throws(() => parseConfig({ ...base, ignoredColumns: [{ table: 'exports', column: 'body' }] }), {
      name: 'ConfigError',
      message: /ignoredColumns\.0\.reason .*got nothing/,
    });
    assert.throws(
      () => parseConfig({ ...base, ignoredColumns: [{ table: 'exports', column: 'body', reason: '  ' }] }),
      {
        message: /ignoredColumns\.0\.reason must say why the column is left out of the rotation, got ' {2}'/,
      },
    );
  });

  it('refuses a column that storedFields lists, a name that is not an identifier, and unknown fields', () => {
    assert.throws(
      () =>
        parseConfig({
          ...base,
          ignoredColumns: [{ table: 'data_sources', column: 'options', reason: 'oops' }],
        }),
      { message: /ignoredColumns\.0\.column is listed in storedFields too/ },
    );
    assert.throws(
      () => parseConfig({ ...base, ignoredColumns: [{ table: 'x; DROP', column: 'c', reason: 'r' }] }),
      { message: /ignoredColumns\.0\.table must be a plain SQL identifier/ },
    );
    assert.throws(
      () => parseConfig({ ...base, ignoredColumns: [{ table: 't', column: 'c', reason: 'r', why: 'x' }] }),
      { name: 'ConfigError', message: /ignoredColumns\.0/ },
    );
  });

  it('refuses a schema with engine mysql', () => {
    assert.throws(
      () =>
        parseConfig({
          ...base,
          dataApi: { ...base.dataApi, engine: 'mysql' },
          ignoredColumns: [{ table: 't', schema: 's', column: 'c', reason: 'r' }],
        }),
      { message: /ignoredColumns\.0\.schema is not supported with engine mysql/ },
    );
  });
});
