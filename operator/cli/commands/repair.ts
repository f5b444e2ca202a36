/** `keyroll repair`: put a client's staging labels back where its record says. */
import type { Command } from 'commander';
import { repairLabels } from '../../ops';
import { checkClientId, checkText } from '../arguments';
import type { RunState } from '../context';

export function registerRepairCommand(program: Command, state: RunState): void {
  program
    .command('repair')
    .description("Put the client's Secrets Manager labels (AWSCURRENT, AWSPREVIOUS, AWSPENDING) where its KeyRoll record says. For when `keyroll status` shows the labels DISAGREE and no rotation runs.")
    .argument('<clientId>', 'client id')
    .requiredOption('--reason <text>', 'why (audit trail)')
    .addHelpText(
      'after',
      '\nThe KeyRoll table is the truth; labels are its projection. A running rotation repairs them itself (RotationInProgress here);\nan orphaned lock is released with `keyroll unlock` first. Nothing to repair: exits 0 and changes nothing but the audit trail.',
    )
    .action(async (rawClientId: string, options: { reason: string }, command: Command) => {
      const clientId = checkClientId(rawClientId);
      const reason = checkText(options.reason, '--reason', 512);
      const { output, session } = state.context(command);
      const deps = await session.opsDeps();
      const actor = await session.actor();
      const result = await repairLabels(deps, { clientId, requestedBy: actor, reason });
      output.result({ ...result, actor }, () =>
        result.repaired.length === 0
          ? `The labels of ${clientId} already agree with the table; nothing changed.`
          : `Repaired the labels of ${clientId}:\n${result.repaired.map((line) => `  ${line}`).join('\n')}`,
      );
    });
}
