/** `keyroll revoke` (the kill switch) and `keyroll rollback` (undo the last rotation during its overlap). */
import type { Command } from 'commander';
import { revokeKey, rollbackLastRotation } from '../../ops';
import { hashApiKey, keyIdOf, parseApiKey } from '../../../lambdas/core/api-key';
import { KeyState } from '../../../lambdas/core/key-state';
import { MAX_CACHE_TTL_MS } from '../../../lambdas/core/key-verifier';
import type { ClientRecord, KeyRecord } from '../../../lambdas/core/model';
import { checkClientId, checkKeyId, checkRotationId, checkText } from '../arguments';
import type { RunState } from '../context';
import { EnvironmentError, KeyNotFoundError, UsageError } from '../errors';
import { fields, timestamp } from '../output';

export function registerIncidentCommands(program: Command, state: RunState): void {
  program
    .command('identify')
    .description('Which key is this? Reads a leaked key from STANDARD INPUT (never an argument: shell history), prints its key id, client, state and what to do. Never prints the key.')
    .addHelpText(
      'after',
      '\nExamples:\n  pbpaste | keyroll identify\n  keyroll identify < leaked-key.txt\n\nExit codes: 0 known key; 1 well-formed but unknown to KeyRoll; 2 not a KeyRoll key (bad shape or checksum).',
    )
    .action(async (_options: unknown, command: Command) => {
      if (!state.io.readStdin) throw new EnvironmentError('identify reads the key from standard input, which this runner does not provide.');
      const candidate = (await state.io.readStdin()).trim();
      const { output, session } = state.context(command);
      const deps = await session.opsDeps();
      let key: string;
      try {
        key = parseApiKey(candidate, deps.settings.keyPrefix).key;
      } catch {
        throw new UsageError(`Standard input is not a KeyRoll key of this deployment (prefix ${deps.settings.keyPrefix}_, 49 characters after it, valid checksum); nothing was looked up.`, ['key: malformed']);
      }
      const keyId = keyIdOf(key);
      const record = await deps.keys.getKey(hashApiKey(key));
      if (!record) throw new KeyNotFoundError(keyId);
      const client = await deps.keys.getClient(record.clientId);
      const role = !client ? 'none' : record.keyId === client.currentKeyId ? 'current' : record.keyId === client.previousKeyId ? 'previous' : 'none';
      const advice = adviceFor(record, role, client);
      const data = {
        keyId,
        clientId: record.clientId,
        state: record.state,
        role,
        rotationId: record.rotationId,
        ...(record.notAfter ? { notAfter: record.notAfter } : {}),
        ...(record.revokedAt ? { revokedAt: record.revokedAt } : {}),
        ...(record.lastUsedAt ? { lastUsedAt: record.lastUsedAt } : {}),
        advice,
      };
      output.result(data, () =>
        [
          `Key ${keyId} belongs to client ${record.clientId}: ${record.state}${role !== 'none' ? ` (${role} key)` : ''}.`,
          fields([
            ['made by', record.rotationId],
            ['last used', record.lastUsedAt ? timestamp(record.lastUsedAt) : 'never recorded'],
            ['not after', record.notAfter ? timestamp(record.notAfter) : undefined],
            ['revoked', record.revokedAt ? timestamp(record.revokedAt) : undefined],
            ['do', advice],
          ]),
        ].join('\n'),
      );
    });

  program
    .command('revoke')
    .description('Kill switch: revoke one key of a client now. Every verifier rejects it within 10 s. The current key is refused unless --force.')
    .argument('<clientId>', 'client id')
    .argument('<keyId>', 'the key id (kr_kid_...) from keyroll status; never the key itself')
    .requiredOption('--reason <text>', 'why (audit trail)')
    .option('--force', "also revoke the client's CURRENT key: the client is locked out until a new key is issued (follow with keyroll rotate <clientId> --emergency)")
    .addHelpText(
      'after',
      [
        '',
        'For a leaked CURRENT key prefer `keyroll rotate <clientId> --emergency` (add --revoke-immediately if seconds',
        'matter): it revokes the key AND issues a new one. Use revoke for a previous (RETIRING) key, or --force when',
        'even an emergency rotation is too slow.',
      ].join('\n'),
    )
    .action(async (rawClientId: string, rawKeyId: string, options: { reason: string; force?: boolean }, command: Command) => {
      const clientId = checkClientId(rawClientId);
      const keyId = checkKeyId(rawKeyId);
      const reason = checkText(options.reason, '--reason', 512);
      const { output, session, nowMs } = state.context(command);
      const deps = await session.opsDeps();
      const actor = await session.actor();
      const result = await revokeKey(deps, { clientId, keyId, requestedBy: actor, reason, ...(options.force ? { force: true } : {}) });
      const rejectedEverywhereBy = new Date(nowMs() + MAX_CACHE_TTL_MS).toISOString();
      const data = { ...result, ...(result.outcome === 'revoked' ? { rejectedEverywhereBy } : {}), actor };
      output.result(data, () =>
        [
          result.outcome === 'revoked' ? `Revoked key ${keyId} of ${clientId} (was ${result.previousState}).` : `Key ${keyId} of ${clientId} was already revoked; nothing changed.`,
          fields([
            ['effect', result.outcome === 'revoked' ? `rejected by every verifier by ${timestamp(rejectedEverywhereBy)} (10 s cache bound); the client is told (key.emergency)` : undefined],
            ['warning', result.wasCurrent ? `this was the CURRENT key: ${clientId} has no working key. Issue one now: keyroll rotate ${clientId} --emergency --reason "..."` : undefined],
            ['verify', `keyroll status ${clientId}; the RevokedKeyUse alarm shows anyone still presenting it`],
          ]),
        ].join('\n'),
      );
    });

  program
    .command('rollback')
    .description("Roll the client's last rotation back during its overlap: the previous key is current again (no deadline), the new key is revoked, the execution is stopped.")
    .argument('<clientId>', 'client id')
    .requiredOption('--reason <text>', 'why (audit trail)')
    .option('--rotation-id <id>', 'the rotation you mean; refused if the last finished rotation is another')
    .addHelpText(
      'after',
      '\nNot possible after the overlap (the previous key is retired), within a minute of its not-after, or after an emergency rotation\n(its previous keys are revoked): those exit 1 with RollbackNotPossible and change nothing.',
    )
    .action(async (rawClientId: string, options: { reason: string; rotationId?: string }, command: Command) => {
      const clientId = checkClientId(rawClientId);
      const reason = checkText(options.reason, '--reason', 512);
      const rotationId = options.rotationId === undefined ? undefined : checkRotationId(options.rotationId);
      const { output, session } = state.context(command);
      const deps = await session.opsDeps();
      const actor = await session.actor();
      const result = await rollbackLastRotation(deps, { clientId, requestedBy: actor, reason, ...(rotationId ? { rotationId } : {}) });
      output.result({ ...result, actor }, () =>
        [
          result.outcome === 'rolled-back'
            ? `Rolled back rotation ${result.rotationId} of ${clientId}: key ${result.currentKeyId} is current again.`
            : `Rotation ${result.rotationId} of ${clientId} was already rolled back; key ${result.currentKeyId} is current.`,
          fields([
            ['execution', result.execution === 'stopped' ? 'stopped' : 'none running under that name'],
            ['effect', result.outcome === 'rolled-back' ? "the rotation's new key is revoked (rejected within 10 s); the client is told (key.emergency)" : undefined],
          ]),
        ].join('\n'),
      );
    });
}

/** The runbook's decision for a leaked key (docs/runbook.md, "Which key leaked?"). */
function adviceFor(record: KeyRecord, role: string, client: ClientRecord | undefined): string {
  const id = record.clientId;
  if (record.state === KeyState.REVOKED) return `nothing to revoke: it is dead everywhere since ${timestamp(record.revokedAt)} (+10 s). Watch the RevokedKeyUse alarm for who still tries it.`;
  if (client?.offboardedAt) return `the client is offboarded; revoke the key: keyroll revoke ${id} ${record.keyId} --reason "..."`;
  if (role === 'current') return `emergency rotation (new key, every old key revoked): keyroll rotate ${id} --emergency --reason "..." --wait  (add --revoke-immediately if it is being abused right now)`;
  if (role === 'previous') return `kill switch (the client already has the new key): keyroll revoke ${id} ${record.keyId} --reason "..."`;
  if (record.state === KeyState.PENDING) return `a rotation in flight created it: keyroll rotate ${id} --emergency --reason "..." stops that rotation and revokes its key`;
  return `revoke it: keyroll revoke ${id} ${record.keyId} --reason "..."`;
}
