/**
 * The step wrapper logs a step's ids before the step validates its input: an unvalidated id
 * (the first step's rotation id, a hostile client id) used to be logged as it came, 1 MB or
 * key-shaped text included. Now only id-shaped values are logged; anything else is `(invalid)`.
 */
import { step } from '../../lambdas/handlers/runtime';
import { captureStdout } from './stdout-capture';

const HUGE = 'x'.repeat(1024 * 1024);
const FORGED = 'a b\n{"level":"ERROR","message":"forged"}';

async function logsOf(input: unknown): Promise<Record<string, unknown>[]> {
  const stdout = captureStdout();
  try {
    await step('probe', async () => 'ok')(input);
  } finally {
    stdout.restore();
  }
  return stdout
    .text()
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

it('logs id-shaped values as they are and anything else as (invalid)', async () => {
  const lines = await logsOf({ rotationId: HUGE, request: { clientId: FORGED }, clientId: FORGED, mode: 42 });
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(line).toMatchObject({ rotationId: '(invalid)', clientId: '(invalid)', mode: '(invalid)' });
  const printed = JSON.stringify(lines);
  expect(printed.length).toBeLessThan(2000);
  expect(printed).not.toContain('forged');

  const nested = await logsOf({ rotation: { rotationId: 'rot-0123456789abcdef0123456789abcdef', clientId: 'acme-payments', mode: 'manual' } });
  expect(nested[0]).toMatchObject({ rotationId: 'rot-0123456789abcdef0123456789abcdef', clientId: 'acme-payments', mode: 'manual' });
});

it.each([null, 'a string', 42, [], { rotation: null }])('survives an input of %p', async (input) => {
  const lines = await logsOf(input);
  expect(lines[0]).toMatchObject({ message: 'step started', step: 'probe' });
});
