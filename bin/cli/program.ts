import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerAbort } from './abort.js';
import { explainError } from './aws-errors.js';
import type { CommandContext } from './context.js';
import { EXIT, EXIT_CODES_HELP, errorLine, exitCodeFor } from './exit-codes.js';
import { registerInit } from './init.js';
import { registerInventory } from './inventory.js';
import type { CliIo } from './io.js';
import { registerLocal } from './local.js';
import { jsonFromOutput } from './options.js';
import { registerPlan } from './plan.js';
import { registerResume } from './resume.js';
import { registerRotateNow } from './rotate-now.js';
import { registerStatus } from './status.js';

/** Adds one command to the program. Each lives in its own file under bin/cli/. */
export type RegisterCommand = (program: Command, ctx: CommandContext) => void;

/** The commands, in the order `rekey --help` lists them. */
export const COMMANDS: readonly RegisterCommand[] = [
  registerStatus,
  registerRotateNow,
  registerResume,
  registerAbort,
  registerInit,
  registerInventory,
  registerPlan,
  registerLocal,
];

/**
 * Runs the CLI in-process: parses `argv` (without the node and script paths), runs the command, and
 * returns the exit code. Errors become one line on stderr (name and message, naming what failed: the
 * endpoint, the region flag, the profile, the secret id); the stack only with `REKEY_DEBUG=1`.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram({
    io,
    setExit: (code) => {
      exitCode = code;
    },
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the help or its one-line error.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
        ? EXIT.ok
        : EXIT.usage;
    }
    const shown = explainError(error);
    io.stderr.write(`${errorLine(shown)}\n`);
    if (process.env.REKEY_DEBUG === '1' && error instanceof Error && error.stack) {
      io.stderr.write(`${error.stack}\n`);
    }
    return exitCodeFor(shown);
  }
  return exitCode;
}

/**
 * The `rekey` program with every command registered, not yet parsed: `run` parses it, and tests parse
 * the `--help` examples with it.
 */
export function buildProgram(ctx: CommandContext): Command {
  const { io } = ctx;
  const program = new Command('rekey')
    .description(
      'Rotate an application secret in Secrets Manager and re-encrypt the database columns it protects.',
    )
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText('after', `${EXIT_CODES_HELP}\nMore: docs/cli.md and docs/operations.md\n`)
    // `--output json` is the AWS CLI's spelling of `--json`; commands read only `json`.
    .hook('preAction', (_program, command) => jsonFromOutput(command));
  for (const register of COMMANDS) register(program, ctx);
  return program;
}

/**
 * The version in the package.json above this file: two levels up from bin/cli/ in a clone, three from
 * dist/bin/cli/ in the built package.
 */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'rekey') return pkg.version ?? '0.0.0';
  }
  return '0.0.0';
}
