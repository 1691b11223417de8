import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RotationStateError } from '../../lambda/errors.js';
import { createLog } from '../../lambda/log.js';
import { rotationFunction } from '../../lambda/rotation-function.js';
import { fakeClock } from '../support/fake-clock.js';
import { rk1Config } from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';

/** What Powertools Logger writes (errors and warnings to stderr) while `work` runs, one object per line. */
async function captured(work: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((s) => s.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof stream.write;
  }
  try {
    await work();
  } finally {
    streams.forEach((stream, i) => {
      stream.write = writes[i] as typeof stream.write;
    });
  }
  return lines
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('the structured log', () => {
  it("keeps a failed step's reason in rekey's own line, under a key the logger does not drop", async () => {
    const secrets = new MemorySecrets();
    const clock = fakeClock();
    const run = rotationFunction({
      config: rk1Config(),
      secrets,
      db: await pgliteRunner(),
      clock,
      log: createLog({ serviceName: 'rekey-test' }),
    });
    const event = { Step: 'setSecret', SecretId: secrets.arn, ClientRequestToken: '0'.repeat(36) };
    const lines = await captured(async () => {
      await assert.rejects(run(event, { getRemainingTimeInMillis: () => 60_000 }), RotationStateError);
    });
    const failed = lines.find((l) => l.message === 'step failed');
    assert.ok(failed, `no 'step failed' line in ${JSON.stringify(lines)}`);
    assert.equal(failed.error, 'RotationStateError');
    assert.match(String(failed.reason), /has no stage for rotation/);
  });

  it('renames a field the logger reserves instead of letting it be dropped', async () => {
    const lines = await captured(async () => {
      createLog({ serviceName: 'rekey-test' }).warn('w', { message: 'kept', table: 't' });
    });
    const line = lines.find((l) => l.message === 'w');
    assert.equal(line?.field_message, 'kept');
    assert.equal(line?.table, 't');
  });
});
