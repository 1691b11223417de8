import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The CLI as a real process: what signals, pipes and the SDK's start-up notices need. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The environment of a child: no AWS settings from this machine, no SDK notice switched off, and none
 * of the test runner's own variables (a child that sees them acts as a test file).
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('AWS_') && k !== 'NODE_TEST_CONTEXT' && k !== 'NODE_OPTIONS',
    ),
  );
  return {
    ...env,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    ...extra,
  };
}

/** `rekey ...` in a child process: one node process running bin/rekey.ts through tsx's loader. */
function rekeyProcess(args: readonly string[], env = childEnv()): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'bin/rekey.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(stream: NodeJS.ReadableStream | null): { text(): string } {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
  });
  return { text: () => text };
}

/** Resolves with stdout so far once it contains `pattern`; rejects if the process ends first. */
function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (pattern.test(text)) {
        child.stdout?.off('data', onData);
        resolve(text);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited (${code}) before printing ${pattern}: ${text}`)));
  });
}

async function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  return { code, signal };
}

/** Whether something still listens on the port (a connection is accepted). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Ports of the endpoints from `rekey local`'s printed environment. */
function portsOf(stdout: string): number[] {
  return [...stdout.matchAll(/^export AWS_ENDPOINT_URL_\w+=http:\/\/127\.0\.0\.1:(\d+)$/gm)].map((m) =>
    Number(m[1]),
  );
}

describe('rekey as a process', { timeout: 120_000 }, () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops \`rekey local\` and both its servers on ${signal}, exiting 0 and freeing the ports`, async () => {
      const child = rekeyProcess(['local']);
      const stderr = collect(child.stderr);
      try {
        const stdout = await waitForOutput(child, /^# Ctrl-C stops\.$/m);
        const ports = portsOf(stdout);
        assert.equal(ports.length, 2, stdout);
        for (const port of ports) assert.equal(await listening(port), true, `port ${port} before ${signal}`);
        const sent = Date.now();
        child.kill(signal);
        const exit = await exitOf(child);
        assert.deepEqual(exit, { code: 0, signal: null }, `stdout: ${stdout}\nstderr: ${stderr.text()}`);
        // Closing waits for no timer of its own; a generous bound for a loaded machine.
        assert.ok(Date.now() - sent < 10_000, `took ${Date.now() - sent} ms to stop`);
        assert.match(stderr.text(), new RegExp(`^${signal}: stopping the local endpoints$`, 'm'));
        for (const port of ports) assert.equal(await listening(port), false, `port ${port} after ${signal}`);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }

  it('stops `rekey local` started through npx when npx dies of SIGTERM without passing it on', async () => {
    // What `npx rekey local` is: npm's process, and rekey below it. npm exits at a SIGTERM at once,
    // and rekey, its parent gone, must not stay listening.
    const launcher = spawn(
      process.execPath,
      [
        '-e',
        "require('node:child_process').spawn(process.execPath, ['--import', 'tsx', 'bin/rekey.ts', 'local'], { stdio: 'inherit' })",
      ],
      { cwd: ROOT, env: childEnv({ npm_lifecycle_event: 'npx' }), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const stderr = collect(launcher.stderr);
    const stdout = await waitForOutput(launcher, /^# Ctrl-C stops\.$/m);
    const ports = portsOf(stdout);
    assert.equal(ports.length, 2, stdout);
    const sent = Date.now();
    launcher.kill('SIGTERM');
    // rekey holds the same pipes: they end when it has exited.
    launcher.stdout?.resume();
    await once(launcher.stdout as NodeJS.ReadableStream, 'end');
    assert.ok(Date.now() - sent < 10_000, `took ${Date.now() - sent} ms to stop`);
    assert.match(
      stderr.text(),
      /^the process that started it \(\d+\) exited: stopping the local endpoints$/m,
    );
    for (const port of ports) assert.equal(await listening(port), false, `port ${port} after npx died`);
  });

  it('ends quietly with exit 0 when the reader of its output goes away (`rekey --help | head -1`)', async () => {
    const child = rekeyProcess(['--help']);
    // The reading end closes before the child writes anything: every write of the help fails with EPIPE.
    child.stdout?.destroy();
    const stderr = collect(child.stderr);
    const { code } = await exitOf(child);
    assert.equal(stderr.text(), '');
    assert.equal(code, 0);
  });

  it('prints no AWS SDK Node version notice, only the one error line naming the endpoint it could not reach', async () => {
    const port = await closedPort();
    const child = rekeyProcess(
      ['status', '--secret-id', 'app', '--region', 'us-east-1', '--endpoint-url', `http://127.0.0.1:${port}`],
      childEnv({ AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' }),
    );
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const { code } = await exitOf(child);
    assert.doesNotMatch(stderr.text(), /NodeVersionSupportWarning|end of support|node >=/i);
    assert.equal(
      stderr.text(),
      `error: EndpointUnreachableError: cannot reach Secrets Manager at http://127.0.0.1:${port} ` +
        '(connection refused): is `rekey local` running? (the endpoint comes from --endpoint-url)\n',
    );
    assert.equal(stdout.text(), '');
    assert.equal(code, 1);
  });
});
