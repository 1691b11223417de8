import { type Command, InvalidArgumentError, Option } from 'commander';
import type { RekeyConfig } from '../../lambda/index.js';
import { UsageError } from './exit-codes.js';

/** The flags every command takes, as AWS tools take them. */
export interface CommonOptions {
  readonly region?: string;
  readonly profile?: string;
  readonly endpointUrl?: string;
  readonly json?: boolean;
  /** `json` or `text`, as the AWS CLI spells it; `--output json` sets `json`. */
  readonly output?: OutputFormat;
  readonly verbose?: boolean;
}

/** What `--output` takes. */
export type OutputFormat = 'json' | 'text';

/**
 * Adds `--region`, `--profile`, `--endpoint-url`, `--json` (and its AWS CLI spelling `--output json`)
 * and `--verbose` to a command.
 */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('--region <region>', "AWS region (default: AWS_REGION or the profile's region)")
    .option('--profile <name>', 'named profile from the AWS config files (default: AWS_PROFILE)')
    .option(
      '--endpoint-url <url>',
      'one endpoint for both Secrets Manager and the RDS Data API (a single URL serving both); ' +
        'AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_RDS_DATA set them one by one, as `rekey local` prints them',
      parseUrl,
    )
    .option('--json', 'print one JSON document on stdout instead of text')
    .addOption(outputOption())
    .option('--verbose', "write the rotation steps' JSON log lines to stderr");
}

/** `--output json|text`: the AWS CLI's spelling of `--json`, for every command that has `--json`. */
export function outputOption(): Option {
  return new Option('--output <format>', 'json is the same as --json; text is the default').choices([
    'json',
    'text',
  ] satisfies OutputFormat[]);
}

/**
 * Folds `--output json` into the `json` option the commands read, before the command's action runs
 * (the program's preAction hook). `--output text` leaves `--json` as given.
 */
export function jsonFromOutput(command: Command): void {
  if (command.getOptionValue('output') === 'json') command.setOptionValue('json', true);
}

/** Parses a whole number of seconds greater than zero. */
export function parseSeconds(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) <= 0) {
    throw new InvalidArgumentError('must be a whole number of seconds greater than 0.');
  }
  return Number(value);
}

function parseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // Falls through to the error below.
  }
  throw new InvalidArgumentError('must be an http:// or https:// URL.');
}

/**
 * The secret a command acts on: `--secret-id`, else the config file's `secretId`.
 * @throws UsageError when neither names one.
 */
export function secretIdFrom(flag: string | undefined, config?: RekeyConfig): string {
  const id = flag ?? config?.secretId;
  if (!id) throw new UsageError('--secret-id is required (or set secretId in the config file)');
  return id;
}

/** The "Examples:" block at the end of a command's help. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
