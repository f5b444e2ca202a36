/**
 * The delivery flags of `clients add` and `clients update`: `--reader <arn>`, `--notify
 * <sqs:ARN|https://URL|email:ADDR>` and `--pickup-key <file.jwk>` (each repeatable), and
 * `--no-readers`, `--no-notify`, `--no-pickup-keys` (update only). They become the operator
 * API's raw delivery request, which validates every value (lambdas/core/delivery-request.ts);
 * here only what needs the CLI's context is checked: the shape of `--notify` and the key files.
 * Nothing a flag holds is ever printed back: it may be a key, a token or a private JWK.
 */
import { readFileSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { ClientDelivery, NotificationEndpoint } from '../../lambdas/core/delivery';
import { MAX_ENDPOINTS, MAX_PICKUP_KEYS, MAX_READERS } from '../../lambdas/core/delivery';
import { describeEndpoint } from '../../lambdas/core/delivery-request';
import { PrivateKeyFileError, UsageError } from './errors';

/** The delivery flags as commander parses them (`--no-notify` shares `notify`: false). */
export interface DeliveryFlags {
  reader?: string[];
  notify?: string[] | false;
  pickupKey?: string[];
}

/** A JWK file is small; anything larger is not one (and is not read whole). */
const MAX_JWK_FILE_BYTES = 64 * 1024;
/** Members only a private JWK has (RFC 7518 sections 6.2.2, 6.3.2, 6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

// `previous` is false after a `--no-notify` (it shares the attribute): refused as a conflict later.
const collect = (value: string, previous: unknown): string[] => [...(Array.isArray(previous) ? (previous as string[]) : []), value];

/** Which delivery flags each command was given (commander keeps only the last of `--notify`/`--no-notify`). */
const given = new WeakMap<Command, Set<string>>();
const FLAG_PAIRS = [
  ['reader', 'no-readers', 'readers'],
  ['notify', 'no-notify', 'endpoints'],
  ['pickup-key', 'no-pickup-keys', 'pickupKeys'],
] as const;

/** Adds `--reader`, `--notify`, `--pickup-key` (and with `clearing`, their `--no-…` forms) to `command`. */
export function addDeliveryOptions(command: Command, clearing: boolean): Command {
  command
    .option('--reader <arn>', `an IAM principal (role, user or account root) allowed to read the client's current key; repeatable, at most ${MAX_READERS}`, collect)
    .option('--notify <endpoint>', `where KeyRoll subscribes the client's notices: sqs:<queue ARN>, https://<url> or email:<address>; repeatable, at most ${MAX_ENDPOINTS}`, collect)
    .option('--pickup-key <file.jwk>', `a public JWK (EC P-256 or RSA 2048+) the client picks its key up with; repeatable, at most ${MAX_PICKUP_KEYS}`, collect);
  if (clearing) {
    command
      .addOption(new Option('--no-readers', 'remove every reader'))
      .addOption(new Option('--no-notify', 'remove every notification endpoint'))
      .addOption(new Option('--no-pickup-keys', 'remove every pickup key'));
  }
  const seen = new Set<string>();
  given.set(command, seen);
  for (const pair of FLAG_PAIRS) for (const flag of pair.slice(0, clearing ? 2 : 1)) command.on(`option:${flag}`, () => seen.add(flag));
  return command;
}

/**
 * The raw delivery request the flags describe: only the lists a flag gave (an update keeps
 * the others), an empty list for a `--no-…` flag. Undefined when no delivery flag was given.
 *
 * @throws UsageError (a malformed --notify, an unreadable key file), PrivateKeyFile
 */
export function deliveryRequestOf(command: Command, flags: DeliveryFlags): Record<string, unknown> | undefined {
  const seen = given.get(command) ?? new Set<string>();
  const conflicts = FLAG_PAIRS.filter(([set, clear]) => seen.has(set) && seen.has(clear)).map(([set, clear]) => `--${set} and --${clear} cannot be used together`);
  if (conflicts.length) throw new UsageError(`${conflicts.join('; ')}.`, conflicts);
  const request: Record<string, unknown> = {};
  if (flags.reader) request.readers = flags.reader;
  else if (seen.has('no-readers')) request.readers = [];
  if (Array.isArray(flags.notify)) request.endpoints = flags.notify.map((spec, i) => endpointOf(spec, i));
  else if (seen.has('no-notify')) request.endpoints = [];
  if (flags.pickupKey) request.pickupKeys = flags.pickupKey.map((file, i) => readPublicJwk(file, i));
  else if (seen.has('no-pickup-keys')) request.pickupKeys = [];
  return Object.keys(request).length ? request : undefined;
}

/** `sqs:<arn>`, `https://<url>` or `email:<address>`, as the API's {protocol, endpoint}. */
function endpointOf(spec: string, index: number): NotificationEndpoint {
  if (spec.startsWith('sqs:')) return { protocol: 'sqs', endpoint: spec.slice('sqs:'.length) };
  if (spec.startsWith('email:')) return { protocol: 'email', endpoint: spec.slice('email:'.length) };
  if (spec.startsWith('https://')) return { protocol: 'https', endpoint: spec };
  throw new UsageError(`--notify #${index + 1} must be sqs:<queue ARN>, https://<url> or email:<address>.`, [`--notify #${index + 1}: unknown kind`]);
}

/**
 * The JSON object in a `--pickup-key` file. A private JWK is refused by name here, before it
 * goes anywhere: the message names the file and the member, never a value.
 */
function readPublicJwk(file: string, index: number): unknown {
  const which = `--pickup-key #${index + 1}`;
  let text: string;
  try {
    if (statSync(file).size > MAX_JWK_FILE_BYTES) throw new UsageError(`${which}: the file is larger than ${MAX_JWK_FILE_BYTES / 1024} KiB; a public JWK is a few hundred bytes.`, [`${which}: too large`]);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${which}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'}).`, [`${which}: unreadable`]);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new UsageError(`${which}: the file is not JSON; it must hold one public JWK ({"kty": "EC", "crv": "P-256", "x": …, "y": …} or {"kty": "RSA", "n": …, "e": …}).`, [`${which}: not JSON`]);
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new UsageError(`${which}: the file must hold one JWK object.`, [`${which}: not a JWK object`]);
  const member = PRIVATE_MEMBERS.find((name) => Object.prototype.hasOwnProperty.call(jwk, name));
  if (member) throw new PrivateKeyFileError(which, member);
  return jwk;
}

/** Delivery settings as the CLI shows them: ARNs, endpoints without their secrets (https by host, email masked), kids. */
export function deliveryView(delivery: ClientDelivery | undefined) {
  return {
    readers: [...(delivery?.readers ?? [])],
    endpoints: (delivery?.endpoints ?? []).map(describeEndpoint),
    pickupKeyIds: (delivery?.pickupKeys ?? []).map((key) => key.kid),
  };
}

/** One line per kind for the text output. */
export function deliveryLines(delivery: ClientDelivery | undefined): [string, string][] {
  const view = deliveryView(delivery);
  return [
    ['readers', view.readers.length ? view.readers.join(', ') : 'none'],
    ['notify', view.endpoints.length ? view.endpoints.join(', ') : 'none'],
    ['pickup keys', view.pickupKeyIds.length ? view.pickupKeyIds.join(', ') : 'none'],
  ];
}
