import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { explainError } from '../../bin/cli/aws-errors.js';
import { awsClients } from '../../bin/cli/clients.js';
import { errorLine } from '../../bin/cli/exit-codes.js';
import { RK1_SECRET_A } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, rk1World, type World } from './world.js';

/** Sets environment variables (undefined removes one) for the test, and puts them back after. */
function useEnv(vars: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  return () => apply(saved);
}

async function listenOn(port = 0): Promise<Server> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** A loopback URL nothing listens on. */
async function closedUrl(): Promise<string> {
  const server = await listenOn();
  const port = portOf(server);
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

async function tempFile(name: string, content: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'rekey-cli-')), name);
  await writeFile(path, content);
  return path;
}

describe('error lines name what failed', () => {
  let restore: () => void;
  beforeEach(() => {
    restore = useEnv({
      AWS_REGION: 'us-east-1',
      AWS_PROFILE: undefined,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL: undefined,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined,
      AWS_ENDPOINT_URL_RDS_DATA: undefined,
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    });
  });
  afterEach(() => restore());

  it('names the Secrets Manager endpoint that refused the connection and the flag it came from', async () => {
    const url = await closedUrl();
    const r = await rekey(['status', '--secret-id', 'app', '--endpoint-url', url]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `error: EndpointUnreachableError: cannot reach Secrets Manager at ${url} (connection refused): ` +
        'is `rekey local` running? (the endpoint comes from --endpoint-url)\n',
    );
  });

  it('names AWS_ENDPOINT_URL_SECRETS_MANAGER when the refused endpoint came from it', async () => {
    const url = await closedUrl();
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = url;
    const r = await rekey(['status', '--secret-id', 'app']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `cannot reach Secrets Manager at ${url} \\(connection refused\\).*from AWS_ENDPOINT_URL_SECRETS_MANAGER`,
      ),
    );
  });

  it('names the flag and the variable that set a missing region, with exit 2', async () => {
    delete process.env.AWS_REGION;
    const r = await rekey(['status', '--secret-id', 'app']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^error: RegionMissingError: no AWS region for Secrets Manager: pass --region, set AWS_REGION/,
    );
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
  });

  it('names a --profile that is in neither AWS config file, with exit 2', async () => {
    process.env.AWS_CONFIG_FILE = await tempFile(
      'config',
      '[default]\nregion = eu-west-1\n[profile ops]\nregion = eu-west-1\n',
    );
    const r = await rekey(['status', '--secret-id', 'app', '--profile', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: ProfileNotFoundError: profile 'nope' \(from --profile\) is not in /);
  });

  it('does not blame a profile that exists', async () => {
    process.env.AWS_CONFIG_FILE = await tempFile('config', '[profile ops]\nregion = eu-west-1\n');
    const url = await closedUrl();
    const r = await rekey(['status', '--secret-id', 'app', '--profile', 'ops', '--endpoint-url', url]);
    assert.doesNotMatch(r.stderr, /ProfileNotFoundError/);
  });

  it('never puts a value sent in the call into the error line', async () => {
    const clients = awsClients({ region: 'us-east-1', endpointUrl: await closedUrl() });
    const error = await clients.secretsManager
      .send(new PutSecretValueCommand({ SecretId: 'app', SecretString: RK1_SECRET_A }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const line = errorLine(explainError(error));
    assert.match(line, /^error: EndpointUnreachableError: cannot reach Secrets Manager/);
    assertNoSecrets(line);
  });

  it('gives the line and column where a config file stops being JSON, with exit 2', async () => {
    const path = await tempFile('bad.json', '{\n  "secretId": "app",\n  storedFields: []\n}\n');
    const r = await rekey(['status', '--config', path]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `error: ConfigError: config file '${path}' is not valid JSON: line 3, column 3: ` +
        'expected a property name in double quotes, found a letter\n',
    );
  });

  it('names the port flag whose port is taken when `rekey local` cannot listen, with exit 2', async () => {
    const busy = await listenOn();
    try {
      const port = portOf(busy);
      const r = await rekey(['local', '--check', '--secrets-manager-port', String(port)]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        new RegExp(
          `^error: UsageError: port ${port} on 127\\.0\\.0\\.1 is in use \\(--secrets-manager-port ${port}\\)`,
        ),
      );
    } finally {
      busy.close();
    }
  });
});

describe('error lines against the local endpoints', () => {
  let w: World;
  beforeEach(async () => {
    w = await rk1World();
  });
  afterEach(() => w.close());

  it('names the secret id Secrets Manager cannot find, the region and the endpoint', async () => {
    const r = await rekey(['status', '--secret-id', 'prod/missing']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: SecretNotFoundError: secret 'prod\/missing' not found in us-east-1 at http:\/\/127\.0\.0\.1:\d+ \(DescribeSecret: .*\); check --secret-id/,
    );
  });

  it('names the RDS Data API endpoint that refused the connection', async () => {
    await w.put(RK1_SECRET_A, ['AWSCURRENT']);
    const url = await closedUrl();
    const restore = useEnv({ AWS_ENDPOINT_URL_RDS_DATA: url });
    try {
      const r = await rekey(['inventory', ...w.args]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(
          `cannot reach the RDS Data API at ${url} \\(connection refused\\).*AWS_ENDPOINT_URL_RDS_DATA`,
        ),
      );
    } finally {
      restore();
    }
  });
});
