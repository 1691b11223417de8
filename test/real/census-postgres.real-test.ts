import { test } from 'node:test';
import { censusSuite, serverCensusTarget } from '../support/census-suite.js';

const url = process.env.REKEY_TEST_PG_URL;

if (url) censusSuite(serverCensusTarget('PostgreSQL', 'postgres', url));
else
  test('the database census on PostgreSQL', {
    skip: 'REKEY_TEST_PG_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)',
  }, () => {});
