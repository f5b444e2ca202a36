/** `keyroll unlock <clientId> --reason <text>`: release a client's lock whose rotation can no longer write. */
import type { Command } from 'commander';
import { unlockClient } from '../../ops';
import { checkClientId, checkText } from '../arguments';
import type { RunState } from '../context';
import { fields } from '../output';

export function registerUnlockCommand(program: Command, state: RunState): void {
  program
    .command('unlock')
    .description(
      "Release a client's rotation lock whose holder can no longer write: its execution ended (FAILED, TIMED_OUT, ABORTED, or SUCCEEDED without letting go) longer ago than the stack's ZombieWindowSeconds, or no longer exists (state machine replaced or renamed). What the holder left is cleaned up first (its unfinished rotation undone).",
    )
    .argument('<clientId>', 'client id')
    .requiredOption('--reason <text>', 'why (audit trail: lock.released_by_operator)')
    .addHelpText(
      'after',
      [
        '',
        'Refused with RotationInProgress (exit 1, nothing changed) while the holder runs, or ended too recently (the',
        'message says when to retry); an operator operation (e.g. a rollback) holds its lock until it expires.',
        'A client without a lock: nothing to do (exit 0). The next rotation also takes such a lock over by itself.',
        '',
        'Example:',
        '  keyroll unlock acme-payments --reason "INC-4711: state machine replaced, stale lock"',
      ].join('\n'),
    )
    .action(async (rawId: string, options: { reason: string }, command: Command) => {
      const clientId = checkClientId(rawId);
      const reason = checkText(options.reason, '--reason', 512);
      const { output, session } = state.context(command);
      const deps = await session.opsDeps();
      const actor = await session.actor();
      const result = await unlockClient(deps, { clientId, requestedBy: actor, reason });
      output.result({ ...result, actor }, () => {
        if (result.outcome === 'no-lock') return `Client ${clientId} has no rotation lock; nothing was changed.`;
        const cleanUp = result.cleanUp;
        return [
          `Released the rotation lock of ${clientId} held by ${result.releasedRotationId}.`,
          fields([
            ['holder', result.detail],
            ['execution', cleanUp ? (cleanUp.execution === 'stopped' ? 'stopped' : 'none running under that name') : undefined],
            ['clean-up', cleanUp ? (cleanUp.undone ? 'its unfinished rotation was undone (pending key revoked, labels back on the current version)' : 'it had finished: nothing to undo') : undefined],
            ['next', `keyroll status ${clientId}`],
          ]),
        ].join('\n');
      });
    });
}
