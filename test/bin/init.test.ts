import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RK1_SECRET_A, RK1_SECRET_B } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, prefixOf, rk1World, type World } from './world.js';

const KEY_A = JSON.parse(RK1_SECRET_A).encryptionKey as string;
const KEY_B = JSON.parse(RK1_SECRET_B).encryptionKey as string;

describe('rekey init', () => {
  let w: World;
  afterEach(() => w.close());

  describe('on an empty database', () => {
    beforeEach(async () => {
      w = await rk1World(0);
    });

    it('writes a first value generated from the template as AWSCURRENT, printing only its key id', async () => {
      const r = await rekey(['init', ...w.args]);
      assert.equal(r.code, 0, r.stderr);
      const value = JSON.parse((await w.valueAt('AWSCURRENT')) ?? '{}');
      assert.equal(Buffer.from(value.encryptionKey, 'base64').length, 32);
      assert.equal(value.cookieSecret.length, 64);
      assert.match(r.stdout, /^wrote version [0-9a-f-]{36} as AWSCURRENT/);
      assert.match(r.stdout, /data key id: rk1:[A-Za-z0-9_-]{8}:/);
      assert.ok(!r.all.includes(value.encryptionKey));
      assert.ok(!r.all.includes(value.cookieSecret));
    });

    it('refuses with exit 4 when AWSCURRENT already holds a rekey value, even with --force', async () => {
      await w.put(RK1_SECRET_A, ['AWSCURRENT']);
      const before = await w.stages();
      const r = await rekey(['init', ...w.args, '--force']);
      assert.equal(r.code, 4);
      assert.match(r.stderr, /already holds a rekey value .* rotate it with `rekey rotate-now`/);
      assert.deepEqual(await w.stages(), before);
    });

    it('replaces a placeholder only with --force, keeping its other fields and dropping its AWSPREVIOUS label', async () => {
      const placeholder = await w.put(JSON.stringify({ password: 'generated-by-cdk', appSetting: 'kept' }), [
        'AWSCURRENT',
      ]);
      const refused = await rekey(['init', ...w.args]);
      assert.equal(refused.code, 4);
      assert.match(refused.stderr, /field 'encryptionKey' is missing.*--force/);
      assert.doesNotMatch(refused.all, /generated-by-cdk/);
      const r = await rekey(['init', ...w.args, '--force']);
      assert.equal(r.code, 0, r.stderr);
      const value = JSON.parse((await w.valueAt('AWSCURRENT')) ?? '{}');
      assert.equal(value.appSetting, 'kept');
      assert.deepEqual(await w.stagesOf(placeholder), []);
      assert.match(r.stdout, new RegExp(`replaced version ${placeholder}`));
    });

    it('refuses with exit 4 while a rotation is pending', async () => {
      await w.stuckRotation(RK1_SECRET_A);
      const r = await rekey(['init', ...w.args]);
      assert.equal(r.code, 4);
      assert.match(r.stderr, /a rotation is pending/);
    });

    it('refuses with exit 4 when the secret does not exist', async () => {
      const r = await rekey(['init', '--secret-id', 'missing', '--config', w.configPath]);
      assert.equal(r.code, 4);
      assert.match(r.stderr, /secret missing does not exist; create it first/);
    });
  });

  describe('where the app already stored values', () => {
    beforeEach(async () => {
      w = await rk1World();
    });

    it("adopts the app's key from stdin so that every stored value stays readable", async () => {
      const r = await rekey(['init', ...w.args, '--adopt-key-file', '-'], { stdin: `${KEY_A}\n` });
      assert.equal(r.code, 0, r.stderr);
      const value = JSON.parse((await w.valueAt('AWSCURRENT')) ?? '{}');
      assert.equal(value.encryptionKey, KEY_A);
      assert.equal(value.cookieSecret.length, 64);
      assert.match(r.stdout, /stored values readable with it: 38/);
      assert.match(r.stdout, new RegExp(`data key id: ${prefixOf(RK1_SECRET_A, w.config)}`));
      assertNoSecrets(r.all);
      assert.ok(!r.all.includes(value.cookieSecret));
    });

    it("adopts the app's key from a file", async () => {
      const dir = await mkdtemp(join(tmpdir(), 'rekey-key-'));
      await writeFile(join(dir, 'key'), KEY_A);
      const r = await rekey(['init', ...w.args, '--adopt-key-file', join(dir, 'key'), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.adopted, true);
      assert.deepEqual(report.rows, { readable: 38, plaintext: 0, unreadable: 0 });
      assertNoSecrets(r.all);
    });

    it('refuses with exit 4 to write a fresh key that cannot read the stored values', async () => {
      const r = await rekey(['init', ...w.args]);
      assert.equal(r.code, 4);
      assert.match(
        r.stderr,
        /38 stored values are encrypted under a key the new value would not hold .*--adopt-key-file/,
      );
      assert.deepEqual(await w.stages(), {});
    });

    it('refuses with exit 4 an adopted key that is not the one the values were written with', async () => {
      const r = await rekey(['init', ...w.args, '--adopt-key-file', '-'], { stdin: KEY_B });
      assert.equal(r.code, 4);
      assert.match(r.stderr, /the adopted key is not the one they were written with/);
      assert.deepEqual(await w.stages(), {});
      assertNoSecrets(r.all);
    });

    it('refuses with exit 2 an adopted key that does not fit the template, without echoing it', async () => {
      const r = await rekey(['init', ...w.args, '--adopt-key-file', '-'], { stdin: 'not-a-key-at-all' });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /field 'encryptionKey' is not 32 bytes of base64/);
      assert.doesNotMatch(r.all, /not-a-key-at-all/);
    });

    it('refuses with exit 2 an empty key', async () => {
      const r = await rekey(['init', ...w.args, '--adopt-key-file', '-'], { stdin: '\n' });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no key in stdin/);
    });
  });
});

describe('rekey init --help', () => {
  it('offers no option that takes the key itself on the command line', async () => {
    const r = await rekey(['init', '--help']);
    const options = r.stdout.match(/^\s+--[a-z-]+/gm)?.map((o) => o.trim()) ?? [];
    assert.deepEqual(
      options.filter((o) => /key/.test(o)),
      ['--adopt-key-file'],
    );
  });
});
