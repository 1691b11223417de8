import { test } from 'node:test';
import { censusSuite, serverCensusTarget } from '../support/census-suite.js';

const url = process.env.REKEY_TEST_MYSQL_URL;

if (url) censusSuite(serverCensusTarget('MariaDB', 'mysql', url));
else
  test('the database census on MySQL', {
    skip: 'REKEY_TEST_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)',
  }, () => {});
