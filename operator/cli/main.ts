/**
 * The `keyroll` process: connects {@link run} to stdin, stdout, stderr and the exit code.
 * Exit codes: 0 ok, 1 refused/failed, 2 bad arguments, 3 environment (see `keyroll --help`).
 */
import { assertSupportedNode, type UnsupportedNodeVersion } from '../../lib/node-version';
import type { LocalDelivery, LocalRotation } from './context';
import { UsageError } from './errors';
import { run } from './program';

/** Runs `keyroll` on this process's arguments and exits with its code. */
export function main(options: { readonly localRotation?: LocalRotation; readonly localDelivery?: LocalDelivery } = {}): void {
  try {
    assertSupportedNode();
  } catch (error) {
    process.stderr.write(`keyroll: ${(error as UnsupportedNodeVersion).message}\n`);
    process.exit(3);
  }

  run(
    process.argv.slice(2),
    {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- @types/node types isTTY as boolean; it is undefined when stderr is not a TTY.
      stderrIsTTY: Boolean(process.stderr.isTTY),
      env: process.env,
      readStdin: async () => {
        // A key typed at a terminal would be echoed and kept in scrollback: only take it piped in.
        if (process.stdin.isTTY) throw new UsageError('identify reads the key from a pipe or file, not a terminal: pbpaste | keyroll identify, or keyroll identify < key.txt');
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
    },
    { ...(options.localRotation ? { localRotation: options.localRotation } : {}), ...(options.localDelivery ? { localDelivery: options.localDelivery } : {}) },
  ).then(
    (code) => {
      // Exit once stdout is flushed (SDK sockets may linger a moment otherwise).
      process.stdout.write('', () => process.exit(code));
    },
    (error: Error) => {
      process.stderr.write(`keyroll: unexpected ${error.name}\n`);
      process.exit(1);
    },
  );
}
