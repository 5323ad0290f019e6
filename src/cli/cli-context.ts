/** What every command module gets from main: the weftd client (made on first use). */
import type { Command } from 'commander';
import type { WeftClient } from './client.js';

export interface CliContext {
  client(): WeftClient;
}

/** A verb's module: registers its command(s) on the program. */
export interface VerbModule {
  register(program: Command, cli: CliContext): void;
}

/** Thrown once a command has printed its own errors, so main exits non-zero without printing again. */
export class ReportedError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'ReportedError';
  }
}

export { collect } from '../repeatable-option.js';
