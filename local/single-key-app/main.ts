/**
 * The single-key app as a process, Redash-shaped: it reads its one key from its environment once, at
 * start (the variable named by REKEY_APP_CONFIG's `keyEnv`), and serves reads of the stored rows through
 * the Data API (AWS_ENDPOINT_URL_RDS_DATA) until it is stopped. It has no way to fetch another key: only
 * a restart with a new environment changes it. When it listens it prints one JSON line
 * `{"ready":true,"url":...,"kid":...,"pid":...}`; SIGTERM, or the end of its stdin (the service that
 * started it has gone), drains its requests and exits 0.
 */
import { createServer } from 'node:http';
import { createDataApiClient, dataApiRunner } from '../../lambda/index.js';
import { APP_CONFIG_ENV, parseAppConfig } from './config.js';
import { singleKeyAppHandler } from './http.js';
import { SingleKeyReader } from './reader.js';

async function main(): Promise<void> {
  const config = parseAppConfig(JSON.parse(process.env[APP_CONFIG_ENV] ?? 'null'));
  const keyValue = process.env[config.keyEnv];
  if (!keyValue) throw new Error(`${config.keyEnv} is not set: the app has no key to start with`);
  // Read once, as Redash reads REDASH_SECRET_KEY: nothing later in this process can see it again.
  delete process.env[config.keyEnv];
  const endpoint = process.env.AWS_ENDPOINT_URL_RDS_DATA;
  const client = createDataApiClient(endpoint ? { endpoint } : {});
  const reader = new SingleKeyReader(
    dataApiRunner(client, config.dataApi),
    config.codec,
    config.fields,
    keyValue,
    config.keyField,
  );
  const server = createServer(singleKeyAppHandler(reader));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // In-flight reads finish; idle keep-alive sockets must not hold the process open.
    server.close(() => {
      client.destroy();
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  // The service holds our stdin open: when it goes away (even killed), so does this process.
  process.stdin.once('end', stop);
  process.stdin.resume();
  process.stdout.write(
    `${JSON.stringify({ ready: true, url: `http://127.0.0.1:${port}`, kid: reader.kid, pid: process.pid })}\n`,
  );
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  // Names and messages only: the key and the rows never reach an error here (see the codecs).
  process.stderr.write(`${JSON.stringify({ error: e.name, message: e.message })}\n`);
  process.exit(1);
});
