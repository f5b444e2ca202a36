/**
 * The CLI's global options were used unchecked: a hostile --region reached the SDK and came
 * back as an unnamed `Error` echoing it (exit 1), a hostile --stack was echoed with its line
 * breaks (exit 3), an empty --actor/--region/--stack was silently ignored, and commander's
 * usage errors echoed a refused token whole (1 MB, line breaks, ANSI escapes). Now each is a
 * UsageError (exit 2) that does not echo the value, and commander's echo is neutralised.
 */
import { CliWorld } from '../cli/cli-harness';

let world: CliWorld;
beforeAll(async () => {
  world = await CliWorld.create();
});

const rotate = ['rotate', '--reason', 'hostile input test', '--', 'no-such-client'];

it.each([
  ['--region', '$(rm -rf /)'],
  ['--region', 'us-east-1\n[ERROR] forged'],
  ['--region', ''],
  ['--stack', 'a\n[ERROR] forged'],
  ['--stack', 'x'.repeat(300)],
  ['--stack', ''],
  ['--profile', ''],
  ['--profile', 'p\u001b[31m'],
  ['--outputs-file', 'a\nb'],
  ['--outputs-file', ''],
  ['--actor', ''],
])('%s %j → exit 2, UsageError, value not echoed', async (option, value) => {
  const result = await world.cli(`${option}=${value}`, ...rotate);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(new RegExp(`^error: UsageError: ${option} must`));
  expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  if (value.length >= 4) expect(result.stderr).not.toContain(value);
});

it.each([
  ['a line break', 'ok\n[ERROR] forged'],
  ['an ANSI escape', '\u001b[31mred'],
  ['1 MB', 'a'.repeat(1024 * 1024)],
])("commander's usage error for a flag given %s: exit 2, token neutralised and cut", async (_name, value) => {
  const result = await world.cli('rotate', `--wait=${value}`, '--reason', 'x', '--', 'no-such-client');
  expect(result.code).toBe(2);
  const lines = result.stderr.split('\n').filter(Boolean);
  expect(lines[0]).toMatch(/^error: unknown option '--wait=/);
  for (const line of lines) expect(line).toMatch(/^(error: |\()/);
  // eslint-disable-next-line no-control-regex -- the point: no escape sequence or NUL reaches stderr
  expect(result.stderr).not.toMatch(/[\u001b\u0000]/);
  expect(result.stderr.length).toBeLessThan(1000);
});

it('valid global options still work', async () => {
  const result = await world.cli('--region=us-east-1', '--actor=alice', ...rotate);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: UnknownClient: /);
});
