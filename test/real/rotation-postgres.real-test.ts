import { test } from 'node:test';
import { realRotationSuite } from '../support/real-rotation-suite.js';

const url = process.env.REKEY_TEST_PG_URL;
if (url) realRotationSuite('PostgreSQL', { postgresUrl: url }, 'postgres');
else test('rotation on PostgreSQL', { skip: 'REKEY_TEST_PG_URL is not set' }, () => {});
