// The CLI's subcommands. Each lives in its own module and registers here with one line.
import type { Command } from '../command';

export const commands: Command[] = [
];
