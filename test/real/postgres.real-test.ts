import { test } from 'node:test';
import { createPostgresEngine } from '../../local/index.js';
import { dataApiSuite } from '../support/local-data-api-suite.js';

const url = process.env.REKEY_TEST_PG_URL;

if (url) {
  dataApiSuite({
    label: 'PostgreSQL',
    dialect: 'postgres',
    database: new URL(url).pathname.slice(1) || 'postgres',
    open: () => createPostgresEngine({ url }),
  });
} else {
  test('local Data API on PostgreSQL', {
    skip: 'REKEY_TEST_PG_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)',
  }, () => {});
}
