import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rekey } from './helpers.js';

describe('rekey local', () => {
  it('starts both endpoints, prints the variables to export, and stops with --check', async () => {
    const r = await rekey(['local', '--check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^export AWS_ENDPOINT_URL_SECRETS_MANAGER=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(r.stdout, /^export AWS_ENDPOINT_URL_RDS_DATA=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(r.stdout, /--resource-arn arn:aws:rds:/);
  });

  it('refuses an engine that is not a postgres or mysql URL', async () => {
    const r = await rekey(['local', '--check', '--engine', 'sqlite://x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /must be a postgres:\/\/ or mysql:\/\/ URL/);
  });
});
