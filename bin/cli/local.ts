import { type Command, InvalidArgumentError } from 'commander';
import { createDeps, rotationFunction } from '../../lambda/index.js';
import { type EngineSpec, inProcessInvoker, startLocal } from '../../local/index.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT } from './exit-codes.js';
import { cliLog } from './log.js';
import { examples } from './options.js';

interface LocalOptions {
  readonly engine?: EngineSpec;
  readonly config?: string;
  readonly state?: string;
  readonly secretsManagerPort?: number;
  readonly dataApiPort?: number;
  readonly check?: boolean;
  readonly json?: boolean;
  readonly verbose?: boolean;
}

/**
 * `rekey local`: the local Secrets Manager and RDS Data API on loopback, with rekey's rotation function
 * in process, until Ctrl-C. Prints the environment that points the SDKs and the AWS CLI at them.
 */
export function registerLocal(program: Command, ctx: CommandContext): void {
  program
    .command('local')
    .summary('run local Secrets Manager and RDS Data API endpoints (embedded PostgreSQL by default)')
    .description(
      'Starts a local Secrets Manager (JSON 1.1 wire protocol) and RDS Data API (REST JSON) on 127.0.0.1, ' +
        'backed by an embedded PostgreSQL, or by a PostgreSQL or MySQL server with --engine. With --config, ' +
        "RotateSecret runs rekey's own rotation function in process, as Lambda would. Prints the variables " +
        'to export so the AWS SDKs, the AWS CLI and `rekey` talk to it; runs until interrupted.',
    )
    .option('--engine <url>', 'postgres://... or mysql://... instead of the embedded PostgreSQL', parseEngine)
    .option('--config <file>', 'rekey config: RotateSecret then runs the rotation function with it')
    .option(
      '--state <file>',
      'keep the Secrets Manager state in this file (it holds secret values: keep it private)',
    )
    .option(
      '--secrets-manager-port <port>',
      'port of the Secrets Manager endpoint (default: any free port)',
      parsePort,
    )
    .option('--data-api-port <port>', 'port of the Data API endpoint (default: any free port)', parsePort)
    .option('--check', 'start, print the environment, stop: proves the endpoints come up')
    .option('--json', 'print the environment as JSON')
    .option('--verbose', "write the rotation function's JSON log lines to stderr")
    .addHelpText(
      'after',
      examples(
        'rekey local --config rekey.config.json',
        'eval "$(rekey local --check | grep ^export)"   # the variables, in a script',
        'aws secretsmanager list-secrets   # with the exported variables',
      ),
    )
    .action(async (options: LocalOptions) => {
      const local = await startLocal({
        engine: options.engine ?? 'pglite',
        stateFile: options.state,
        resumeInterrupted: options.state !== undefined,
        ports: { secretsManager: options.secretsManagerPort, dataApi: options.dataApiPort },
      });
      try {
        if (options.config) {
          const config = await loadConfigFile(options.config);
          const deps = createDeps(config, {
            secretsManagerEndpoint: local.secretsManagerUrl,
            dataApiEndpoint: local.dataApiUrl,
            region: local.env.AWS_REGION,
            credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
            log: cliLog(ctx.io.stderr, options.verbose, () => ctx.io.clock.now()),
          });
          local.secretsManager.setInvoker(inProcessInvoker(rotationFunction(deps)));
        }
        const target = local.dataApiTarget;
        if (options.json) {
          printJson(ctx, { env: local.env, dataApi: target });
        } else {
          printLines(
            ctx,
            `Local endpoints on ${local.engine.description}:`,
            ...Object.entries(local.env).map(([k, v]) => `export ${k}=${v}`),
            `# Data API target: --resource-arn ${target.resourceArn} --secret-arn ${target.secretArn} --database ${target.database}`,
            options.config
              ? '# RotateSecret runs the rekey rotation function in this process.'
              : '# No --config: RotateSecret fails until one is given.',
          );
        }
        if (!options.check) {
          printLines(ctx, '# Ctrl-C stops.');
          await untilInterrupted();
        }
      } finally {
        await local.close();
      }
      ctx.setExit(EXIT.ok);
    });
}

function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function parseEngine(value: string): EngineSpec {
  if (/^postgres(ql)?:\/\//.test(value)) return { postgresUrl: value };
  if (/^mysql:\/\//.test(value)) return { mysqlUrl: value };
  throw new InvalidArgumentError('must be a postgres:// or mysql:// URL.');
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('must be a port number.');
  return port;
}
