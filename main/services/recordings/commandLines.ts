/**
 * The player's command list: the lines typed on the played terminal channel, with the time
 * Enter was pressed. The reconstruction itself is shared with search and the CLI
 * (shared/terminal/commandLine.ts), so all three list the same commands.
 */
import { CommandLineReconstructor } from '../../../shared/terminal/commandLine.ts';

export interface CommandLine {
  /** ms from the session's start, when Enter was pressed. */
  t: number;
  text: string;
}

export class CommandLineBuilder {
  private readonly lines = new CommandLineReconstructor<number>();
  readonly commands: CommandLine[] = [];

  /** Feeds decoded input typed at `t`. */
  push(t: number, text: string): void {
    for (const line of this.lines.input(text, t))
      this.commands.push({ t: line.stamp, text: line.text });
  }

  /** Feeds the channel's output (the shell's echo completes and corrects lines). */
  output(data: Uint8Array): void {
    for (const line of this.lines.output(data))
      this.commands.push({ t: line.stamp, text: line.text });
  }
}
