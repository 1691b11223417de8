import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PutSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import type { Command } from 'commander';
import type { RekeyConfig, SecretDescription, SecretsStore } from '../../lambda/index.js';
import {
  checkSecretValue,
  generateSecretValue,
  keyIdsOf,
  RotationStateError,
  SecretFormatError,
  stagedVersions,
  takeCensus,
  totalOf,
} from '../../lambda/index.js';
import { awsClients, CLI_DEADLINE_MS, rotationDeps } from './clients.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT, UsageError } from './exit-codes.js';
import type { Input } from './io.js';
import { cliLog } from './log.js';
import { type CommonOptions, examples, secretIdFrom, withCommonOptions } from './options.js';
import { progressReporter } from './progress.js';

/** An adopted key longer than this is not a key: refuse rather than read a whole file into a secret. */
const MAX_KEY_BYTES = 64 * 1024;

interface InitOptions extends CommonOptions {
  readonly secretId?: string;
  readonly config: string;
  readonly adoptKeyFile?: string;
  readonly force?: boolean;
}

/** What `rekey init --json` prints: names, ids and counts; never the value. */
export interface InitReport {
  readonly secretId: string;
  readonly versionId: string;
  readonly adopted: boolean;
  readonly fields: readonly string[];
  /** The data keys' public ids (the rk1 prefix, or the codec's key id), one per codec and key field. */
  readonly keyIds: readonly string[];
  /** Stored values the new value can read, and the ones it cannot. */
  readonly rows: { readonly readable: number; readonly plaintext: number; readonly unreadable: number };
  /** The version that was AWSCURRENT before, when --force replaced it. */
  readonly replacedVersionId: string | undefined;
}

/** `rekey init`: writes the secret's first rekey value, generated or around an adopted key. */
export function registerInit(program: Command, ctx: CommandContext): void {
  withCommonOptions(
    program
      .command('init')
      .summary("write the secret's first value from the template, or adopt the app's existing key")
      .description(
        "Writes the secret's first rekey value as AWSCURRENT: every template field generated, or, with " +
          "--adopt-key-file, the data key field set to the app's existing key (read from a file or from " +
          'stdin with -, never from the command line) so that the first rotation re-encrypts what the app ' +
          'already stored. Before writing, it counts the stored values and refuses when some are under a ' +
          'key the new value does not hold (unless policies.undecryptable is skip). Refuses when ' +
          'AWSCURRENT already holds a value that matches the template, or while a rotation is pending. A ' +
          'value that does not match the template (a placeholder) is replaced only with --force; it is ' +
          'kept as a version, and its fields that the template does not name are carried over.',
      )
      .option('--secret-id <id>', 'name or ARN of an existing secret (default: secretId in --config)')
      .requiredOption('--config <file>', 'rekey config file (the same JSON the Lambda gets in REKEY_CONFIG)')
      .option(
        '--adopt-key-file <path>',
        "read the app's existing data key from this file, or from stdin with -",
      )
      .option('--force', 'replace an AWSCURRENT value that does not match the template (a placeholder)'),
  )
    .addHelpText(
      'after',
      examples(
        'rekey init --secret-id prod/app --config rekey.json',
        'printenv REDASH_SECRET_KEY | rekey init --secret-id prod/redash --config redash.json --adopt-key-file -',
        'rekey init --config rekey.json --adopt-key-file ./old-key.txt --force',
      ),
    )
    .action(async (options: InitOptions) => {
      const config = await loadConfigFile(options.config);
      const secretId = secretIdFrom(options.secretId, config);
      const { clock } = ctx.io;
      const clients = awsClients(options);
      const deps = rotationDeps(config, clients, {
        clock,
        log: cliLog(ctx.io.stderr, options.verbose, clock.now),
      });
      const described = await describeExisting(deps.secrets, secretId);
      const { current, pending } = stagedVersions(described);
      if (pending) {
        throw new RotationStateError(
          `a rotation is pending for secret ${secretId} (version ${pending.versionId}); init writes only a first version`,
        );
      }
      const carryOver = await checkReplaceable(deps.secrets, secretId, config, options.force === true);
      const adopted =
        options.adoptKeyFile === undefined ? undefined : await readAdoptedKey(options.adoptKeyFile, ctx);
      const value = composeValue(config, carryOver, adopted);
      const progress = progressReporter(ctx.io.stderr);
      const census = await takeCensus([{ label: 'current', versionId: '(new)', secretString: value }], {
        ...deps,
        deadline: clock.now() + CLI_DEADLINE_MS,
        progress: progress.phase('checking stored values'),
      }).finally(() => progress.end());
      const total = totalOf(census);
      if (total.unknown > 0 && config.policies.undecryptable === 'fail') {
        const where = census.filter((c) => c.unknown > 0).map((c) => `${c.table}.${c.column}: ${c.unknown}`);
        throw new RotationStateError(
          `${total.unknown} stored values are encrypted under a key the new value would not hold (${where.join('; ')}); ` +
            (adopted === undefined
              ? "adopt the app's key with --adopt-key-file"
              : 'the adopted key is not the one they were written with') +
            ", or set policies.undecryptable to 'skip' if they are expected",
        );
      }
      const versionId = randomUUID();
      await clients.secretsManager.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: versionId,
          SecretString: value,
          VersionStages: ['AWSCURRENT'],
        }),
      );
      if (current) {
        // The replaced placeholder now holds AWSPREVIOUS; the steps read that label as a key and would
        // refuse a value that is not the template's. Nothing was encrypted with it, so the label goes.
        await deps.secrets.moveStage(secretId, 'AWSPREVIOUS', { fromVersionId: current.versionId });
      }
      const report: InitReport = {
        secretId,
        versionId,
        adopted: adopted !== undefined,
        fields: Object.keys(JSON.parse(value) as Record<string, unknown>),
        keyIds: keyIdsOf(config, value),
        rows: { readable: total.current, plaintext: total.plaintext, unreadable: total.unknown },
        replacedVersionId: current?.versionId,
      };
      if (options.json) printJson(ctx, report);
      else printLines(ctx, ...renderInit(report));
      ctx.setExit(EXIT.ok);
    });
}

async function describeExisting(secrets: SecretsStore, secretId: string): Promise<SecretDescription> {
  try {
    return await secrets.describe(secretId);
  } catch (error) {
    if (error instanceof ResourceNotFoundException) {
      throw new RotationStateError(
        `secret ${secretId} does not exist; create it first (the rekey stack does, or aws secretsmanager create-secret)`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Whether the AWSCURRENT value may be replaced, and which of its fields to carry over. A value that
 * matches the template is a rekey value some rows may need: never replaced here, even with --force.
 * @throws RotationStateError when the value matches the template, or does not and --force is absent.
 */
async function checkReplaceable(
  secrets: SecretsStore,
  secretId: string,
  config: RekeyConfig,
  force: boolean,
): Promise<Record<string, unknown>> {
  const current = await secrets.getValue(secretId, { stage: 'AWSCURRENT' });
  if (!current) return {};
  const mismatch = templateMismatch(current.secretString, config, `AWSCURRENT version ${current.versionId}`);
  if (mismatch === undefined) {
    throw new RotationStateError(
      `secret ${secretId} already holds a rekey value (AWSCURRENT version ${current.versionId}); ` +
        'init writes only a first version: rotate it with `rekey rotate-now`',
    );
  }
  if (!force) {
    throw new RotationStateError(
      `${mismatch}. Run again with --force to write a rekey value as a new AWSCURRENT version (the old one stays as a version)`,
    );
  }
  return jsonObjectOrEmpty(current.secretString);
}

/** The new secret value: template fields generated, the data key adopted when one is given. */
function composeValue(
  config: RekeyConfig,
  carryOver: Record<string, unknown>,
  adopted: string | undefined,
): string {
  const value = JSON.parse(generateSecretValue(config.secretTemplate, carryOver)) as Record<string, unknown>;
  if (adopted === undefined) return JSON.stringify(value);
  value[config.dataKeyField] = adopted;
  const text = JSON.stringify(value);
  try {
    checkSecretValue(text, config.secretTemplate, 'the adopted key');
    keyIdsOf(config, text);
  } catch (error) {
    // A key that does not fit is bad input, like a bad flag; the message names the field, not the key.
    if (error instanceof SecretFormatError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  return text;
}

/**
 * Reads the adopted key from a file or stdin, trimmed of surrounding whitespace (a trailing newline
 * from `echo` or an editor is not part of a key). The key is never echoed, not even in an error.
 * @throws UsageError when the source cannot be read, is empty or is too large.
 */
async function readAdoptedKey(path: string, ctx: CommandContext): Promise<string> {
  let raw: string;
  if (path === '-') {
    if (ctx.io.stdin.isTTY) ctx.io.stderr.write('reading the key from stdin; end with Ctrl-D\n');
    raw = await readAll(ctx.io.stdin);
  } else {
    try {
      raw = await readFile(path, 'utf8');
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new UsageError(`key file '${path}' cannot be read (${code})`, { cause });
    }
  }
  if (Buffer.byteLength(raw) > MAX_KEY_BYTES)
    throw new UsageError(`the adopted key is larger than ${MAX_KEY_BYTES} bytes; that is not a key`);
  const key = raw.trim();
  if (key.length === 0) throw new UsageError(`no key in ${path === '-' ? 'stdin' : `'${path}'`}`);
  return key;
}

async function readAll(input: Input): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    size += buffer.length;
    chunks.push(buffer);
    if (size > MAX_KEY_BYTES) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Why a value does not match the template (naming the field, never the value), or `undefined`. */
function templateMismatch(secretString: string, config: RekeyConfig, label: string): string | undefined {
  try {
    checkSecretValue(secretString, config.secretTemplate, label);
    return undefined;
  } catch (error) {
    if (error instanceof SecretFormatError) return error.message;
    throw error;
  }
}

function jsonObjectOrEmpty(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function renderInit(r: InitReport): string[] {
  const lines = [
    `wrote version ${r.versionId} as AWSCURRENT of ${r.secretId}`,
    `  fields: ${r.fields.join(', ')}${r.adopted ? ' (data key adopted)' : ''}`,
    `  data key id: ${r.keyIds.join(', ')}`,
    `  stored values readable with it: ${r.rows.readable}`,
  ];
  if (r.rows.plaintext > 0)
    lines.push(
      `  plaintext values: ${r.rows.plaintext} (policies.plaintext decides what testSecret does with them)`,
    );
  if (r.rows.unreadable > 0)
    lines.push(`  values it cannot read: ${r.rows.unreadable} (policies.undecryptable is skip)`);
  if (r.replacedVersionId)
    lines.push(
      `  replaced version ${r.replacedVersionId}, which did not match the template (kept, without labels)`,
    );
  return lines;
}
