import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerAbort } from './abort.js';
import type { CommandContext } from './context.js';
import { EXIT, EXIT_CODES_HELP, errorLine, exitCodeFor } from './exit-codes.js';
import { registerInit } from './init.js';
import { registerInventory } from './inventory.js';
import type { CliIo } from './io.js';
import { registerLocal } from './local.js';
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
  registerLocal,
];

/**
 * Runs the CLI in-process: parses `argv` (without the node and script paths), runs the command, and
 * returns the exit code. Errors become one line on stderr (name and message); the stack only with
 * `REKEY_DEBUG=1`.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const ctx: CommandContext = {
    io,
    setExit: (code) => {
      exitCode = code;
    },
  };
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
    .addHelpText('after', `${EXIT_CODES_HELP}\nMore: docs/cli.md and docs/operations.md\n`);
  for (const register of COMMANDS) register(program, ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the help or its one-line error.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
        ? EXIT.ok
        : EXIT.usage;
    }
    io.stderr.write(`${errorLine(error)}\n`);
    if (process.env.REKEY_DEBUG === '1' && error instanceof Error && error.stack) {
      io.stderr.write(`${error.stack}\n`);
    }
    return exitCodeFor(error);
  }
  return exitCode;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}
