/**
 * Counts the AWS SDK commands sent on given clients while a test is listening, so a hostile
 * input can be shown to cost no write (and, where validation comes first, no call at all).
 */

interface MiddlewareStackLike {
  add(middleware: unknown, options: { step: string; name: string; priority?: string }): void;
  remove(name: string): boolean;
}

const NAME = 'keyrollHostileCallCounter';

/** The commands sent on the clients since the last {@link SdkCalls.reset}. */
export class SdkCalls {
  readonly commands: string[] = [];

  constructor(...clients: { middlewareStack: unknown }[]) {
    for (const client of clients) {
      const stack = client.middlewareStack as MiddlewareStackLike;
      stack.remove(NAME);
      stack.add(
        (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
          this.commands.push((context.commandName ?? 'Unknown').replace(/Command$/, ''));
          return next(args);
        },
        { step: 'initialize', name: NAME, priority: 'high' },
      );
    }
  }

  reset(): void {
    this.commands.length = 0;
  }

  /** Commands that may change something (anything but Get/Describe/List/Query/Scan/BatchGet). */
  get writes(): string[] {
    return this.commands.filter((command) => !/^(Get|Describe|List|Query|Scan|BatchGet)/.test(command));
  }
}
