/**
 * The command lines of a recorded SSH session, from its events: what `witness recordings
 * commands` prints. The same rules as search (gateway/search/recordingTextDeriver.ts): each
 * channel that requested a pty has its own reconstruction (shared/terminal/commandLine.ts) fed
 * its input and its echo; `exec` requests are commands as sent; sftp, other subsystems and
 * forwarded TCP streams are not text.
 */
import { isNonTerminalMeta, metaType, parseEventJson } from '../recording/eventMeta.ts';
import { eventKinds, type RecordingEvent } from '../recording/recordingFormat.ts';
import { CommandLineReconstructor } from './commandLine.ts';

export interface RecordedCommandLine {
  /** The frame whose Enter completed the line (or the exec request). */
  seq: number;
  /** Epoch ms of that frame. */
  time: number;
  channel: number;
  text: string;
}

interface Channel {
  pty: boolean;
  binary: boolean;
  decoder: TextDecoder;
  lines: CommandLineReconstructor<RecordingEvent>;
}

export class RecordingCommandLines {
  private readonly channels = new Map<number, Channel>();
  readonly commands: RecordedCommandLine[] = [];

  /** Takes one event into account (in recorded order). */
  event(event: RecordingEvent): void {
    const channel = this.channel(event.channel);
    if (event.kind === eventKinds.meta) {
      const meta = parseEventJson(event.data);
      if (isNonTerminalMeta(meta)) channel.binary = true;
      if (metaType(meta) === 'pty-req') channel.pty = true;
      const command = (meta as { command?: unknown } | undefined)?.command;
      if (metaType(meta) === 'exec' && typeof command === 'string') this.add(event, command);
      return;
    }
    if (channel.binary) return;
    if (event.kind === eventKinds.input) {
      const typed = channel.decoder.decode(event.data, { stream: true });
      for (const line of channel.lines.input(typed, event))
        this.typed(channel, line.stamp, line.text);
    } else if (event.kind === eventKinds.output || event.kind === eventKinds.stderr) {
      for (const line of channel.lines.output(event.data))
        this.typed(channel, line.stamp, line.text);
    }
  }

  private typed(channel: Channel, event: RecordingEvent, text: string): void {
    // Without a pty, input is data piped to a command, not a command line.
    if (channel.pty) this.add(event, text);
  }

  private add(event: RecordingEvent, text: string): void {
    this.commands.push({ seq: event.seq, time: event.time, channel: event.channel, text });
  }

  private channel(id: number): Channel {
    let channel = this.channels.get(id);
    if (!channel) {
      channel = {
        pty: false,
        binary: false,
        decoder: new TextDecoder('utf-8'),
        lines: new CommandLineReconstructor<RecordingEvent>(),
      };
      this.channels.set(id, channel);
    }
    return channel;
  }
}
