// What a CLI subcommand is. Commands parse their own flags with `node:util` parseArgs.

export interface Command {
  /** `trellis <name> …` */
  name: string;
  /** One line for `trellis --help`. */
  summary: string;
  /** Full usage text for `trellis <name> --help`. */
  usage: string;
  /** Returns the process exit code. Throw `UsageError` for bad flags (exit 2). */
  run(argv: string[]): Promise<number>;
}

/** Bad command-line input: printed as one line on stderr, exit code 2. */
export class UsageError extends Error {}
