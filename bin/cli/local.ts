import { type Command, InvalidArgumentError } from 'commander';
import { createDeps, rotationFunction } from '../../lambda/index.js';
import {
  type EngineSpec,
  inProcessInvoker,
  LOCAL_CLUSTER_ARN,
  type LocalEndpoints,
  type LocalSecretsManager,
  type RotationEventRecord,
  startLocal,
} from '../../local/index.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT, UsageError } from './exit-codes.js';
import type { Output } from './io.js';
import { failureTagValue, LOCAL_FAILURE_TAG } from './local-failure.js';
import { cliLog } from './log.js';
import { examples, outputOption } from './options.js';

interface LocalOptions {
  readonly engine?: EngineSpec;
  readonly config?: string;
  readonly state?: string;
  readonly dataDir?: string;
  readonly secretsManagerPort?: number;
  readonly dataApiPort?: number;
  readonly check?: boolean;
  readonly json?: boolean;
  readonly verbose?: boolean;
}

/** The rotation function ARN to give RotateSecret locally: any well-formed one runs the function in process. */
export const LOCAL_ROTATION_LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-local';

/** The one command that switches rotation on for a secret on the local endpoints, as `rekey local` prints it. */
export const ENABLE_ROTATION_COMMAND =
  `aws secretsmanager rotate-secret --secret-id ID --rotation-lambda-arn ${LOCAL_ROTATION_LAMBDA_ARN} ` +
  '--rotation-rules AutomaticallyAfterDays=30 --no-rotate-immediately';

/** How often `rekey local` started by npm looks whether npm is still there. */
const PARENT_CHECK_MS = 500;

/** After Ctrl-C, how long closing may take before the process exits anyway. */
const CLOSE_GRACE_MS = 5_000;

/** What `rekey local --json` prints. */
export interface LocalReport {
  /** The variables to export, AWS_DEFAULT_REGION included (the AWS CLI reads that one). */
  readonly env: Readonly<Record<string, string>>;
  readonly dataApi: LocalEndpoints['dataApiTarget'];
  /** The command that switches rotation on for a secret here (replace ID). */
  readonly enableRotation: string;
}

/**
 * `rekey local`: the local Secrets Manager and RDS Data API on loopback, in this process, with rekey's
 * rotation function in process, until Ctrl-C or SIGTERM, which close both servers and end the process.
 * Prints the environment that points the SDKs and the AWS CLI at them.
 */
export function registerLocal(program: Command, ctx: CommandContext): void {
  program
    .command('local')
    .summary('run local Secrets Manager and RDS Data API endpoints (embedded PostgreSQL by default)')
    .description(
      'Starts a local Secrets Manager (JSON 1.1 wire protocol) and RDS Data API (REST JSON) on 127.0.0.1, ' +
        'backed by an embedded PostgreSQL, or by a PostgreSQL or MySQL server with --engine. With --config, ' +
        "RotateSecret runs rekey's own rotation function in process, as Lambda would. Prints the variables " +
        'to export so the AWS SDKs, the AWS CLI and `rekey` talk to it, and the command that switches ' +
        'rotation on for a secret; writes one line per rotation started, failed or finished to stderr; ' +
        'runs until Ctrl-C or SIGTERM.',
    )
    .option('--engine <url>', 'postgres://... or mysql://... instead of the embedded PostgreSQL', parseEngine)
    .option('--config <file>', 'rekey config: RotateSecret then runs the rotation function with it')
    .option(
      '--state <file>',
      'keep the Secrets Manager state in this file (it holds secret values: keep it private)',
    )
    .option(
      '--data-dir <dir>',
      'keep the embedded PostgreSQL in this directory, so a restart keeps the data beside --state',
    )
    .option(
      '--secrets-manager-port <port>',
      'port of the Secrets Manager endpoint (default: any free port)',
      parsePort,
    )
    .option('--data-api-port <port>', 'port of the Data API endpoint (default: any free port)', parsePort)
    .option('--check', 'start, print the environment, stop: proves the endpoints come up')
    .option('--json', 'print the environment as JSON')
    .addOption(outputOption())
    .option('--verbose', "write the rotation function's JSON log lines to stderr")
    .addHelpText(
      'after',
      examples(
        'rekey local --config rekey.config.json',
        'eval "$(rekey local --check | grep ^export)"   # the variables, in a script',
        'rekey local --config rekey.json --secrets-manager-port 4566 --data-api-port 4567',
        'aws secretsmanager list-secrets   # with the exported variables',
      ),
    )
    .action(async (options: LocalOptions) => {
      if (options.dataDir !== undefined && options.engine !== undefined)
        throw new UsageError('--data-dir keeps the embedded PostgreSQL: it does not go with --engine');
      const config = options.config ? await loadConfigFile(options.config) : undefined;
      // The Data API answers only for the clusters it is told of: the config's, so the rotation function
      // runs against it unchanged, and the local one it prints.
      const local = await startEndpoints(options, config?.dataApi.resourceArn);
      const interruption = watchInterruption(startedByNpm());
      const stopReporting = reportRotations(local.secretsManager, ctx.io.stderr);
      try {
        if (config) {
          const deps = createDeps(config, {
            secretsManagerEndpoint: local.secretsManagerUrl,
            dataApiEndpoint: local.dataApiUrl,
            region: local.env.AWS_REGION,
            credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
            log: cliLog(ctx.io.stderr, options.verbose, () => ctx.io.clock.now()),
          });
          local.secretsManager.setInvoker(inProcessInvoker(rotationFunction(deps)));
        }
        const report: LocalReport = {
          env: exportedEnv(local),
          dataApi: local.dataApiTarget,
          enableRotation: ENABLE_ROTATION_COMMAND,
        };
        if (options.json) {
          printJson(ctx, report);
        } else {
          const target = report.dataApi;
          printLines(
            ctx,
            `Local endpoints on ${local.engine.description}:`,
            ...Object.entries(report.env).map(([k, v]) => `export ${k}=${v}`),
            `# Data API target: --resource-arn ${target.resourceArn} --secret-arn ${target.secretArn} --database ${target.database}`,
            options.config
              ? '# RotateSecret runs the rekey rotation function in this process.'
              : '# No --config: RotateSecret fails until one is given.',
            '# Switch rotation on for a secret (it tests the rotation function on the current value first):',
            `#   ${report.enableRotation}`,
          );
        }
        if (!options.check) {
          if (!options.json) printLines(ctx, '# Ctrl-C stops.');
          const reason = await interruption.reason;
          ctx.io.stderr.write(`${reason}: stopping the local endpoints\n`);
          forceExitAfter(CLOSE_GRACE_MS, ctx.io.stderr);
        }
      } finally {
        interruption.dispose();
        stopReporting();
        await local.close();
      }
      ctx.setExit(EXIT.ok);
    });
}

/**
 * Starts the endpoints on the ports asked for.
 * @throws UsageError naming the port flag when its port is taken.
 */
async function startEndpoints(options: LocalOptions, configCluster?: string): Promise<LocalEndpoints> {
  try {
    return await startLocal({
      engine: options.engine ?? 'pglite',
      ...(options.dataDir === undefined ? {} : { pgliteDataDir: options.dataDir }),
      ...(configCluster && configCluster !== LOCAL_CLUSTER_ARN
        ? { clusterArns: [LOCAL_CLUSTER_ARN, configCluster] }
        : {}),
      stateFile: options.state,
      resumeInterrupted: options.state !== undefined,
      ports: { secretsManager: options.secretsManagerPort, dataApi: options.dataApiPort },
    });
  } catch (error) {
    const { code, port } = error as { code?: unknown; port?: unknown };
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
    const flags = [
      ...(options.secretsManagerPort === port ? ['--secrets-manager-port'] : []),
      ...(options.dataApiPort === port ? ['--data-api-port'] : []),
    ];
    const flag = flags.length > 0 ? ` (${flags.join(', ')} ${String(port)})` : '';
    throw new UsageError(
      `port ${String(port)} on 127.0.0.1 ${code === 'EADDRINUSE' ? 'is in use' : 'needs privileges this process lacks'}${flag}: ` +
        'stop what listens there, pick another port, or leave the flag out for any free port',
      { cause: error },
    );
  }
}

/** The variables to export: the endpoints', with AWS_DEFAULT_REGION next to AWS_REGION for the AWS CLI. */
function exportedEnv(local: LocalEndpoints): Readonly<Record<string, string>> {
  if (local.env.AWS_DEFAULT_REGION) return local.env;
  return Object.fromEntries(
    Object.entries(local.env).flatMap(([k, v]) =>
      k === 'AWS_REGION' ? [[k, v] as const, ['AWS_DEFAULT_REGION', v] as const] : [[k, v] as const],
    ),
  );
}

/**
 * Writes one line per rotation event to stderr, the local counterpart of the rotation function's log,
 * and records a failed rotation's step and error as a tag on the secret, where `rotate-now --wait` (in
 * another process) reads it. Returns the function that stops it.
 */
export function reportRotations(secretsManager: LocalSecretsManager, stderr: Output): () => void {
  const tagged = new Set<string>();
  const tagCall = (operation: string, body: Record<string, unknown>) => {
    // The secret may be gone meanwhile; the tag is only a convenience for rotate-now.
    secretsManager.call(operation, body).catch(() => {});
  };
  return secretsManager.onEvent((event) => {
    stderr.write(`${eventLine(event)}\n`);
    const configurationTest = event.reason !== undefined;
    if (event.type === 'RotationFailed' && !configurationTest) {
      const failure = {
        versionId: event.versionId,
        step: event.step ?? 'unknown',
        attempt: event.attempt ?? 1,
        error: event.error ? `${event.error.name}: ${event.error.message}` : 'no error recorded',
      };
      tagged.add(event.secretArn);
      tagCall('TagResource', {
        SecretId: event.secretArn,
        Tags: [{ Key: LOCAL_FAILURE_TAG, Value: failureTagValue(failure) }],
      });
    } else if (tagged.has(event.secretArn) && !configurationTest) {
      tagged.delete(event.secretArn);
      tagCall('UntagResource', { SecretId: event.secretArn, TagKeys: [LOCAL_FAILURE_TAG] });
    }
  });
}

function eventLine(e: RotationEventRecord): string {
  const attempt = e.attempt === undefined ? '' : ` (attempt ${e.attempt})`;
  const step = e.step ? ` in ${e.step}` : '';
  const error = e.error ? `: ${e.error.name}: ${e.error.message.replace(/\s+/g, ' ')}` : '';
  const reason = e.reason ? ` [${e.reason}]` : '';
  return `rotation: ${e.type} ${e.secretName} version ${e.versionId}${attempt}${step}${error}${reason}`;
}

/** What ends `rekey local`'s wait: a signal, or the process that started it going away. */
interface Interruption {
  /** Resolves with what it was: the signal's name, or that the parent exited. */
  readonly reason: Promise<string>;
  /** Stops listening (when the command ends without waiting, as with --check). */
  dispose(): void;
}

/**
 * Listens, from the moment the servers are up, for SIGINT, SIGTERM and SIGHUP (a second one while
 * closing ends the process at once, exit 130, as Ctrl-C twice does in most servers), and with
 * `watchParent` for the process that started this one going away: `npx` dies of a SIGTERM without
 * passing it on, which would leave `rekey local` listening with no one to stop it. Listening starts
 * before anything is printed, so a signal sent as soon as the output appears is never missed.
 */
function watchInterruption(watchParent: boolean): Interruption {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let watch: NodeJS.Timeout | undefined;
  let settle: (reason: string) => void = () => {};
  const release = () => {
    clearInterval(watch);
    for (const s of signals) process.off(s, stop);
  };
  function stop(reason: string): void {
    release();
    for (const s of signals) process.once(s, () => process.exit(130));
    settle(reason);
  }
  const reason = new Promise<string>((resolve) => {
    settle = resolve;
  });
  for (const s of signals) process.on(s, stop);
  if (watchParent) {
    const parent = process.ppid;
    watch = setInterval(() => {
      if (process.ppid !== parent) stop(`the process that started it (${parent}) exited`);
    }, PARENT_CHECK_MS);
    watch.unref();
  }
  return { reason, dispose: release };
}

/** Whether npm (`npx`, `npm run`) started this process: then it stops when npm goes away. */
function startedByNpm(): boolean {
  return process.env.npm_lifecycle_event !== undefined;
}

/** Ends the process after `ms` if closing has not let it end by then (a step in flight, a stuck socket). */
function forceExitAfter(ms: number, stderr: Output): void {
  setTimeout(() => {
    stderr.write(`closing took longer than ${ms / 1000}s; exiting anyway\n`);
    process.exit(EXIT.ok);
  }, ms).unref();
}

function parseEngine(value: string): EngineSpec {
  if (/^postgres(ql)?:\/\//.test(value)) return { postgresUrl: value };
  if (/^mysql:\/\//.test(value)) return { mysqlUrl: value };
  throw new InvalidArgumentError('must be a postgres:// or mysql:// URL.');
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65535) throw new InvalidArgumentError('must be a port number.');
  return port;
}
