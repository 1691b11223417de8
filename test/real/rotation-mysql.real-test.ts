import { test } from 'node:test';
import { realRotationSuite } from '../support/real-rotation-suite.js';

const url = process.env.REKEY_TEST_MYSQL_URL;
if (url) realRotationSuite('MariaDB', { mysqlUrl: url }, 'mysql');
else test('rotation on MariaDB', { skip: 'REKEY_TEST_MYSQL_URL is not set' }, () => {});
