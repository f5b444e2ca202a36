/**
 * Invariant 5 for the operator-API tests: the file's stdout/stderr (the handlers' log lines)
 * and, after each test, that test's world (its table items, the client notices it caused,
 * and every key its secrets ever held) go into one secret tap, checked after the last test.
 */
import { captureStdio, SecretTap, SourceKind, tapTopic } from '../support/secret-tap';
import type { OpsWorld } from './ops-fixtures';

/** Registers the hooks; `world` returns the current test's world. */
export function checkNoPlaintextInOpsWorlds(world: () => OpsWorld | undefined): SecretTap {
  const tap = new SecretTap();
  let release: (() => void) | undefined;
  beforeAll(() => {
    release = captureStdio(tap, { passThrough: true });
  });
  afterEach(async () => {
    const w = world();
    if (!w) return;
    await tapTopic(tap, w.clientTopic, 'client').drain();
    await tap.addStore(w.steps);
  });
  afterAll(() => {
    release?.();
    tap.expectNoPlaintext({ kinds: [SourceKind.DYNAMODB_ITEM] });
  });
  return tap;
}
