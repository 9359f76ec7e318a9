// The CLI's subcommands. Each lives in its own module and registers here with one line.
import type { Command } from '../command';
import { completeCommand } from './complete';
import { infillCommand } from './infill';
import { infoCommand } from './info';
import { benchCommand } from './bench';
import { benchTokenizerCommand } from './bench-tokenizer';
import { evalGrammarCommand } from './eval-grammar';
import { evalSteeringCommand } from './eval-steering';
import { evalHealingCommand } from './eval-healing';
import { grammarCommand } from './grammar';
import { benchMaskCommand } from './bench-mask';
import { evalCommand, benchSuiteCommand, reportCommand } from './eval';
import { benchXGrammarCommand } from './bench-xgrammar';

export const commands: Command[] = [
  completeCommand,
  infillCommand,
  infoCommand,
  benchCommand,
  benchTokenizerCommand,
  evalGrammarCommand,
  evalSteeringCommand,
  evalHealingCommand,
  grammarCommand,
  benchMaskCommand,
  evalCommand,
  benchSuiteCommand,
  reportCommand,
  benchXGrammarCommand,
];
