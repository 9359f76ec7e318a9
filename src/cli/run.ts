// The CLI proper (main.ts loads it): dispatches to a subcommand. Any error a user can act on
// becomes one line on stderr and exit code 2 — never a stack trace (set TRELLIS_DEBUG=1 for one).
import { commands } from './commands';
import { UsageError } from './command';
import { TrellisError } from '../engine/api';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  return [
    'Usage: trellis <command> [options]   (node dist/cli.js …)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `trellis <command> --help` for its options.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command '${name}'; run 'trellis --help' for the list`);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  return command.run(rest);
}

/** Runs one CLI command (argv without node and the script); sets process.exitCode. */
export function runCli(argv: string[]): Promise<void> {
  return main(argv).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      if (process.env.TRELLIS_DEBUG) console.error(err);
      if (err instanceof UsageError || err instanceof TrellisError) {
        console.error(`trellis: ${err.message}`);
      } else {
        const e = err as Error;
        console.error(`trellis: internal error: ${e?.message ?? String(err)} (set TRELLIS_DEBUG=1 for details)`);
      }
      process.exitCode = 2;
    },
  );
}
