import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { rekey } from './helpers.js';

const COMMANDS = ['status', 'rotate-now', 'resume', 'abort', 'init', 'inventory'];

async function tempFile(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rekey-cli-'));
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('rekey (the program)', () => {
  it('lists every command and the exit codes in --help', async () => {
    const r = await rekey(['--help']);
    assert.equal(r.code, 0);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'));
    assert.match(
      r.stdout,
      /Exit codes:\n\s+0\s+ok\n\s+1\s+failed.*\n\s+2\s+usage.*\n\s+3\s+not finished.*\n\s+4\s+refused/,
    );
  });

  for (const c of COMMANDS) {
    it(`documents the AWS flags, --json and examples in '${c} --help'`, async () => {
      const r = await rekey([c, '--help']);
      assert.equal(r.code, 0);
      for (const flag of ['--region', '--profile', '--endpoint-url', '--json', '--output <format>'])
        assert.match(r.stdout, new RegExp(flag));
      assert.match(r.stdout, /Examples:\n\s+\$ rekey /);
    });
  }

  it('exits 2 with one line for an unknown option', async () => {
    const r = await rekey(['status', '--secret-id', 'app', '--bogus']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "error: unknown option '--bogus'\n");
  });

  it('exits 2 when a required option is missing', async () => {
    const r = await rekey(['resume', '--secret-id', 'app']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /required option '--config <file>' not specified/);
  });

  it('exits 2 when status gets neither --secret-id nor --config', async () => {
    const r = await rekey(['status']);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'error: UsageError: --secret-id is required (or set secretId in the config file)\n',
    );
  });

  it('refuses an --output format other than json or text', async () => {
    const r = await rekey(['status', '--secret-id', 'app', '--output', 'yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--output <format>.*Allowed choices are json, text/);
  });

  it('exits 2 for a timeout that is not a whole number of seconds', async () => {
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--timeout', '1.5']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--timeout <seconds>.*whole number of seconds/);
  });

  it('exits 2 for an endpoint that is not a URL', async () => {
    const r = await rekey(['status', '--secret-id', 'app', '--endpoint-url', 'localhost:4566']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--endpoint-url.*http/);
  });

  it('exits 2 and names the file when the config file is missing', async () => {
    const r = await rekey(['inventory', '--config', '/nonexistent/rekey.json']);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      "error: ConfigError: config file '/nonexistent/rekey.json' cannot be read (ENOENT)\n",
    );
  });

  it('exits 2 and names the field when the config is invalid', async () => {
    const path = await tempFile(
      'bad.json',
      JSON.stringify({ secretTemplate: {}, dataKeyField: 'k', storedFields: [] }),
    );
    const r = await rekey(['resume', '--secret-id', 'app', '--config', path]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^error: ConfigError: ${path}: storedFields `));
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
  });

  it('exits 2 when neither --secret-id nor the config names the secret', async () => {
    const path = await tempFile(
      'no-secret.json',
      JSON.stringify({
        secretTemplate: { k: { kind: 'aes-256' } },
        dataKeyField: 'k',
        storedFields: [{ table: 't', id: 'id', columns: ['c'] }],
        dataApi: {
          resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:app',
          secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf',
          database: 'app',
          engine: 'postgres',
        },
      }),
    );
    const r = await rekey(['inventory', '--config', path]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'error: UsageError: --secret-id is required (or set secretId in the config file)\n',
    );
  });

  it('exits 2 for an unknown command', async () => {
    const r = await rekey(['rotate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'rotate'/);
  });

  it('shows the help on stderr and exits 2 when no command is given', async () => {
    const r = await rekey([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage: rekey/);
  });

  it('prints its version and exits 0', async () => {
    const r = await rekey(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
