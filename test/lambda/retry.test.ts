import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatementTooSlowError } from '../../lambda/errors.js';
import { DEFAULT_RETRY, isTransient, withRetry } from '../../lambda/retry.js';
import { fakeClock } from '../support/fake-clock.js';

const named = (name: string, status?: number) =>
  Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

describe('retrying transient errors', () => {
  it('knows throttling, a resuming Aurora, statement timeouts and 5xx as transient', () => {
    for (const name of [
      'ThrottlingException',
      'DatabaseResumingException',
      'StatementTimeoutException',
      'ServiceUnavailableError',
    ]) {
      assert.ok(isTransient(named(name)), name);
    }
    assert.ok(isTransient(named('Whatever', 503)));
    assert.ok(!isTransient(named('BadRequestException', 400)));
    assert.ok(!isTransient('ThrottlingException'));
  });

  it('knows a connection that broke on the way as transient (the SDK retries are off)', () => {
    const hangUp = Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' });
    assert.ok(isTransient(hangUp));
    for (const code of ['ECONNRESET', 'EPIPE', 'ETIMEDOUT'])
      assert.ok(isTransient(Object.assign(new Error('x'), { code })), code);
    assert.ok(!isTransient(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })));
  });

  it('backs off with jitter under a ceiling and succeeds', async () => {
    const clock = fakeClock();
    let n = 0;
    const result = await withRetry(
      async () => {
        if (++n < 4) throw named('DatabaseResumingException');
        return 'ok';
      },
      { clock, random: () => 0.999, policy: { attempts: 5, baseMs: 100, maxMs: 250 } },
    );
    assert.equal(result, 'ok');
    assert.deepEqual(clock.slept, [99, 199, 249]);
  });

  it('gives up after the attempts and never retries a permanent error', async () => {
    const clock = fakeClock();
    let n = 0;
    await assert.rejects(
      withRetry(
        async () => {
          n++;
          throw named('ThrottlingException');
        },
        { clock, policy: { attempts: 3, baseMs: 1, maxMs: 1 } },
      ),
      { name: 'ThrottlingException' },
    );
    assert.equal(n, 3);
    n = 0;
    await assert.rejects(
      withRetry(
        async () => {
          n++;
          throw named('BadRequestException');
        },
        { clock },
      ),
    );
    assert.equal(n, 1);
  });

  it('stops a statement that timed out three attempts in a row, and says what makes one that slow', async () => {
    const clock = fakeClock();
    let n = 0;
    const timeout = named('StatementTimeoutException');
    await assert.rejects(
      withRetry(
        async () => {
          n++;
          throw timeout;
        },
        { clock },
      ),
      (error: unknown) => {
        assert.ok(error instanceof StatementTooSlowError);
        assert.equal(error.cause, timeout);
        assert.equal(error.attempts, 3);
        assert.match(error.message, /45 s limit on 3 attempts in a row/);
        for (const cause of [/locks/, /CPU or I\/O/, /whole column/]) assert.match(error.message, cause);
        return true;
      },
    );
    // Three, not the eight that throttling gets: each timeout costs 45 s of the invocation.
    assert.equal(n, 3);
    assert.equal(DEFAULT_RETRY.attempts, 8);
  });

  it('counts only timeouts in a row: another transient error between them starts the count again', async () => {
    const clock = fakeClock();
    const sequence = [
      'StatementTimeoutException',
      'StatementTimeoutException',
      'ThrottlingException',
      'StatementTimeoutException',
      'StatementTimeoutException',
    ];
    let n = 0;
    const result = await withRetry(
      async () => {
        const name = sequence[n++];
        if (name) throw named(name);
        return 'ok';
      },
      { clock },
    );
    assert.equal(result, 'ok');
    assert.equal(n, 6);
  });
});
