import { test } from 'node:test';
import { createMysqlEngine } from '../../local/index.js';
import { dataApiSuite } from '../support/local-data-api-suite.js';

const url = process.env.REKEY_TEST_MYSQL_URL;

if (url) {
  dataApiSuite({
    label: 'MySQL/MariaDB',
    dialect: 'mysql',
    database: new URL(url).pathname.slice(1) || 'test',
    open: () => createMysqlEngine({ url }),
  });
} else {
  test('local Data API on MySQL/MariaDB', {
    skip: 'REKEY_TEST_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)',
  }, () => {});
}
