/**
 * Validation of a client's delivery settings (lambdas/core/delivery.ts) as the operator gives
 * them at onboarding and at `clients update`: AWS readers, notification endpoints and pickup
 * public keys. Every failure is an issue line that names the field and what it must be, never
 * the value: an operator may paste an API key, a private JWK or a signed webhook URL by mistake.
 *
 * Everything is checked before anything is read or written, and the result is canonical
 * (deduplicated and sorted) so that two requests meaning the same settings compare equal and a
 * re-run changes nothing.
 */
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import * as v from 'valibot';
import { MAX_ENDPOINTS, MAX_PICKUP_KEYS, MAX_READERS, NOTIFICATION_PROTOCOLS, type ClientDelivery, type NotificationEndpoint, type PickupPublicKey } from './delivery';
import { InvalidOperationInputError } from './errors';
import { issueLine, NAMEABLE_FIELD } from './input-schema';
import { containsApiKey } from './key-material';

/** The AWS partitions a reader or a queue may be in. */
export const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const;
export type Partition = (typeof PARTITIONS)[number];

/**
 * IAM user and role names: 1-64 characters of `[\w+=,.@-]`; paths: `/` or `/…/` of
 * U+0021-U+007E, at most 512 characters
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/API_EntityInfo.html, `Name` and `Path`;
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
 */
const IAM_NAME = /^[\w+=,.@-]{1,64}$/;
const IAM_PATH = /^\/(?:[\x21-\x7e]*\/)?$/;
const MAX_IAM_PATH = 512;
/** `arn:<partition>:iam::<account>:<resource>`: the account is 12 digits, the region empty (IAM is global). */
const IAM_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):(.+)$/;
const STS_ARN = /^arn:[a-z-]+:sts::/;
/** SQS queue names: 1-80 characters of [A-Za-z0-9_-] (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html). */
const SQS_ARN = /^arn:(aws|aws-cn|aws-us-gov):sqs:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/;
/** A simple, conservative address: no spaces, quotes, brackets or control characters; a dotted domain. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const MAX_EMAIL = 254;
/** Longest https endpoint KeyRoll subscribes (SNS's own limit is larger; a webhook URL needs far less). */
export const MAX_HTTPS_URL = 2048;
/** Key ids: what a JWS header and the audit trail carry without quoting. RFC 7638 thumbprints are 43 characters. */
export const PICKUP_KID_PATTERN = /^[A-Za-z0-9._~:-]{1,128}$/;
/** Members a private JWK has and a public one must not (RFC 7518 sections 6.2.2, 6.3.2, 6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'] as const;
/** Members a registered public key may have; anything else is refused (certificates, key_ops, …). */
const EC_MEMBERS = new Set(['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use']);
const RSA_MEMBERS = new Set(['kty', 'n', 'e', 'kid', 'alg', 'use']);
/** The signature algorithms of the pickup protocol: a key registered with an `alg` signs its assertions with that one only. */
const EC_ALGS = new Set(['ES256']);
const RSA_ALGS = new Set(['RS256', 'PS256']);
const USES = new Set(['sig', 'enc']);
const MIN_RSA_BITS = 2048;
/** Bounds the work on a hostile RSA key (16384-bit moduli are the largest anyone uses). */
const MAX_RSA_BITS = 16_384;
/** Longest JWK member value: a 16384-bit modulus in base64url, with room. */
const MAX_JWK_MEMBER = 2800;

/** How the deployment constrains ARNs: readers and queues must be in its partition. */
export interface DeliveryParseOptions {
  /** The deployment's partition (from any of its ARNs). Absent: all ARNs of one request must share a partition. */
  readonly partition?: string;
  /**
   * The deployment's own account. Its root is refused as a reader: it would open the secret to
   * every principal of KeyRoll's account that has GetSecretValue (other tenants' same-account
   * readers included).
   */
  readonly account?: string;
}

/** A change of delivery settings: each given list replaces the stored one, an absent one is kept. */
export interface DeliveryChange {
  readonly readers?: readonly string[];
  readonly endpoints?: readonly NotificationEndpoint[];
  readonly pickupKeys?: readonly PickupPublicKey[];
}

const DELIVERY_FIELDS = ['readers', 'endpoints', 'pickupKeys'] as const;
const LIST_LIMITS = [
  ['readers', MAX_READERS, 'readers'],
  ['endpoints', MAX_ENDPOINTS, 'endpoints'],
  ['pickupKeys', MAX_PICKUP_KEYS, 'pickup keys'],
] as const;
/** Most issue lines one request reports (a hostile object may have thousands of unknown fields). */
const MAX_ISSUES = 20;

/** One issue per own field of `object` that is not one of `fields`, naming it only when its name is plain. */
function unknownFieldIssues(object: object, fields: readonly string[], where: string): string[] {
  return Object.keys(object)
    .filter((key) => !fields.includes(key))
    .map((key) => `${where}.${NAMEABLE_FIELD.test(key) ? key : '(unknown field)'}: is not allowed; the fields are ${fields.join(', ')}`);
}

/** At most {@link MAX_ISSUES} lines, the rest counted. */
function bounded(issues: readonly string[]): string[] {
  return issues.length <= MAX_ISSUES ? [...issues] : [...issues.slice(0, MAX_ISSUES), `… and ${issues.length - MAX_ISSUES} more issues`];
}

// Shapes only: each item's meaning is checked below, so that every issue of a request is listed at once.
const stringList = (max: number, what: string) => v.pipe(v.array(v.string('must be a string'), `must be a list of ${what}`), v.maxLength(max, `must have at most ${max} ${what}`));
const endpointShape = v.strictObject(
  {
    protocol: v.picklist(NOTIFICATION_PROTOCOLS, `must be one of ${NOTIFICATION_PROTOCOLS.join(', ')}`),
    endpoint: v.pipe(v.string('must be a string'), v.maxLength(MAX_HTTPS_URL, `must be at most ${MAX_HTTPS_URL} characters`)),
  },
  (issue) => (issue.expected === 'never' ? 'is not allowed; the fields are protocol, endpoint' : issue.path?.length ? 'is required' : 'must be an object {protocol, endpoint}'),
);
const deliveryShape = v.strictObject(
  {
    readers: v.optional(stringList(MAX_READERS, 'readers')),
    endpoints: v.optional(v.pipe(v.array(endpointShape, 'must be a list of endpoints'), v.maxLength(MAX_ENDPOINTS, `must have at most ${MAX_ENDPOINTS} endpoints`))),
    pickupKeys: v.optional(
      // Each JWK is checked as given (valibot's copy of an object drops `__proto__`, `constructor` and `prototype`).
      v.pipe(v.array(v.unknown(), 'must be a list of public JWKs'), v.maxLength(MAX_PICKUP_KEYS, `must have at most ${MAX_PICKUP_KEYS} pickup keys`)),
    ),
  },
  (issue) => (issue.expected === 'never' ? `is not allowed; the fields are ${DELIVERY_FIELDS.join(', ')}` : 'must be a JSON object {readers, endpoints, pickupKeys}'),
);

/**
 * Validates complete delivery settings (onboarding). Absent lists are empty.
 *
 * @param field the name issue lines start with (e.g. `delivery`).
 * @throws InvalidOperationInputError listing every offending field, never a value.
 */
export async function parseDelivery(raw: unknown, options: DeliveryParseOptions = {}, field = 'delivery'): Promise<ClientDelivery> {
  const { change, issues } = await checkDelivery(raw, options, field);
  rejectDeliveryIssues(issues);
  return { readers: change.readers ?? [], endpoints: change.endpoints ?? [], pickupKeys: change.pickupKeys ?? [] };
}

/**
 * Validates a change of delivery settings (`clients update`): each given list (an empty one
 * too) replaces the stored one.
 *
 * @throws InvalidOperationInputError listing every offending field, never a value.
 */
export async function parseDeliveryChange(raw: unknown, options: DeliveryParseOptions = {}, field = 'delivery'): Promise<DeliveryChange> {
  const { change, issues } = await checkDelivery(raw, options, field);
  rejectDeliveryIssues(issues);
  return change;
}

/**
 * The issues of `raw` as delivery settings, and what it means when there are none. For
 * callers that list these issues with others of the same request.
 */
export async function checkDelivery(raw: unknown, options: DeliveryParseOptions, field: string): Promise<{ change: DeliveryChange; issues: string[] }> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { change: {}, issues: [`${field}: must be a JSON object {readers, endpoints, pickupKeys}`] };
  // A list over its limit is refused before its items are looked at: a hostile list of a million items costs nothing.
  const oversized = LIST_LIMITS.filter(([name, max]) => {
    const list = (raw as Record<string, unknown>)[name];
    return Array.isArray(list) && list.length > max;
  }).map(([name, max, what]) => `${field}.${name}: must have at most ${max} ${what}`);
  if (oversized.length) return { change: {}, issues: oversized };
  // Own keys, checked here: valibot's strict objects look names up with `in`, which finds `constructor` on every object.
  const unknown = unknownFieldIssues(raw, DELIVERY_FIELDS, field);
  const endpointsRaw = (raw as Record<string, unknown>).endpoints;
  if (Array.isArray(endpointsRaw)) {
    (endpointsRaw as unknown[]).forEach((item, i) => {
      if (typeof item === 'object' && item !== null && !Array.isArray(item)) unknown.push(...unknownFieldIssues(item, ['protocol', 'endpoint'], `${field}.endpoints[${i}]`));
    });
  }
  if (unknown.length) return { change: {}, issues: bounded(unknown) };
  const shaped = v.safeParse(deliveryShape, raw);
  if (!shaped.success) {
    return {
      change: {},
      issues: bounded(
        shaped.issues.map(
          (issue) =>
            `${field}${issueLine(issue)
              .replace(/^\(input\)/, '')
              .replace(/^(?=[^:[])/, '.')}`,
        ),
      ),
    };
  }
  const issues: string[] = [];
  const partitions = new Set<string>(options.partition ? [options.partition] : []);
  const input = shaped.output;
  const readers = input.readers && uniqueSorted(input.readers.flatMap((arn, i) => checkReader(arn, `${field}.readers[${i}]`, issues, partitions, options.account)));
  const endpoints = input.endpoints && uniqueEndpoints(input.endpoints.flatMap((endpoint, i) => checkEndpoint(endpoint, `${field}.endpoints[${i}]`, issues, partitions)));
  let pickupKeys: PickupPublicKey[] | undefined;
  if (input.pickupKeys) {
    const checked = await Promise.all(input.pickupKeys.map((jwk, i) => checkPickupKey(jwk, `${field}.pickupKeys[${i}]`)));
    checked.forEach((result) => (typeof result === 'string' ? issues.push(result) : undefined));
    pickupKeys = distinctKids(
      checked.filter((result): result is PickupPublicKey => typeof result !== 'string'),
      `${field}.pickupKeys`,
      issues,
    );
  }
  if (partitions.size > 1) {
    issues.push(options.partition ? `${field}: every ARN must be in this deployment's partition (${options.partition})` : `${field}: every ARN must be in one partition`);
  }
  return { change: { ...(readers ? { readers } : {}), ...(endpoints ? { endpoints } : {}), ...(pickupKeys ? { pickupKeys } : {}) }, issues: bounded(issues) };
}

function rejectDeliveryIssues(issues: readonly string[]): void {
  if (issues.length) throw new InvalidOperationInputError(`Invalid delivery settings: ${issues.join('; ')}`, issues);
}

/** An IAM principal ARN a secret policy can name: an account root, a role or a user. */
function checkReader(arn: string, where: string, issues: string[], partitions: Set<string>, ownAccount?: string): string[] {
  const refuse = (why: string) => (issues.push(`${where}: ${why}`), []);
  if (containsApiKey(arn)) return refuse('must be an IAM principal ARN, not an API key');
  if (STS_ARN.test(arn)) {
    return refuse('is an STS session ARN (an assumed role or a federated user), which changes at every session; register the role instead: arn:<partition>:iam::<account>:role/<name>');
  }
  if (/[*?]/.test(arn)) return refuse('must name one principal: wildcards (* ?) are not allowed');
  // IAM substitutes policy variables in condition values (the secret policy's deny exemptions) but not in Principal.
  if (/[${}]/.test(arn)) return refuse('must name one principal: policy variables ($ { }) are not allowed');
  const match = IAM_ARN.exec(arn);
  if (!match) return refuse('must be an IAM principal ARN: arn:<aws|aws-cn|aws-us-gov>:iam::<12-digit account>:root, …:role/<path/name> or …:user/<path/name>');
  const [, partition, account, resource] = match;
  if (resource === 'root' && account === ownAccount) return refuse("is this deployment's own account root, which would let every principal of KeyRoll's account read the key: name the role or user");
  if (resource !== 'root') {
    const kind = /^(role|user)(\/.*)$/.exec(resource);
    if (!kind) return refuse('must name root, a role (role/<path/name>) or a user (user/<path/name>)');
    const rest = kind[2];
    const slash = rest.lastIndexOf('/');
    const path = rest.slice(0, slash + 1);
    const name = rest.slice(slash + 1);
    if (!IAM_NAME.test(name)) return refuse(`the ${kind[1]} name must be 1-64 characters of [A-Za-z0-9_+=,.@-]`);
    if (path.length > MAX_IAM_PATH || !IAM_PATH.test(path)) return refuse(`the ${kind[1]} path must be at most ${MAX_IAM_PATH} characters of ! to ~ between slashes`);
  }
  partitions.add(partition);
  return [arn];
}

/** A place KeyRoll may subscribe the client's notices to. */
function checkEndpoint(raw: NotificationEndpoint, where: string, issues: string[], partitions: Set<string>): NotificationEndpoint[] {
  const refuse = (why: string) => (issues.push(`${where}.endpoint: ${why}`), []);
  const { protocol, endpoint } = raw;
  if (containsApiKey(endpoint)) return refuse('must not contain an API key');
  if (protocol === 'sqs') {
    const match = SQS_ARN.exec(endpoint);
    if (!match) return refuse('must be an SQS queue ARN: arn:<partition>:sqs:<region>:<12-digit account>:<queue name of 1-80 [A-Za-z0-9_-]>');
    partitions.add(match[1]);
    return [{ protocol, endpoint }];
  }
  if (protocol === 'https') {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return refuse('must be an https:// URL');
    }
    if (url.protocol !== 'https:') return refuse('must be an https:// URL');
    if (url.username || url.password) return refuse('must not carry credentials (user:password@); SNS signs every message instead');
    if (url.hash || endpoint.includes('#')) return refuse('must not have a fragment (#…)');
    if (!url.hostname || /\s/.test(endpoint)) return refuse('must be an https:// URL with a host and no spaces');
    // The URL as typed: SNS posts to exactly this address, and the client confirms that subscription.
    return [{ protocol, endpoint }];
  }
  if (endpoint.length > MAX_EMAIL || !EMAIL.test(endpoint)) return refuse('must be an email address (local@domain, at most 254 characters)');
  // Domains are case-insensitive; the local part is the recipient's.
  const at = endpoint.lastIndexOf('@');
  return [{ protocol, endpoint: `${endpoint.slice(0, at)}@${endpoint.slice(at + 1).toLowerCase()}` }];
}

/** A public JWK the pickup endpoint can verify assertions with and encrypt to, or the issue line. */
async function checkPickupKey(raw: unknown, where: string): Promise<PickupPublicKey | string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${where}: must be a public JWK (a JSON object)`;
  const jwk = raw as Record<string, unknown>;
  // First, before anything else is looked at: a private key must never be stored, logged or echoed.
  const secret = PRIVATE_MEMBERS.find((member) => Object.prototype.hasOwnProperty.call(jwk, member));
  if (secret) return `${where}: is a private key (it has the private member '${secret}'); register the public key only, and keep the private key with the client`;
  const members = Object.keys(jwk);
  const kty = jwk.kty;
  if (kty !== 'EC' && kty !== 'RSA') return `${where}.kty: must be EC (P-256) or RSA`;
  const allowed = kty === 'EC' ? EC_MEMBERS : RSA_MEMBERS;
  const unknown = members.filter((member) => !allowed.has(member));
  if (unknown.length) return `${where}: has members a ${kty} public key for pickup does not have; the members are ${[...allowed].join(', ')}`;
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string') return `${where}.${member}: must be a string`;
    if (value.length > MAX_JWK_MEMBER) return `${where}.${member}: must be at most ${MAX_JWK_MEMBER} characters`;
    if (member !== 'kid' && member !== 'alg' && member !== 'use' && member !== 'kty' && member !== 'crv' && !/^[A-Za-z0-9_-]+$/.test(value)) return `${where}.${member}: must be base64url`;
  }
  const text = jwk as Record<string, string>;
  if (text.use !== undefined && !USES.has(text.use)) return `${where}.use: must be sig or enc when given`;
  if (text.alg !== undefined && !(kty === 'EC' ? EC_ALGS : RSA_ALGS).has(text.alg)) return `${where}.alg: must be one of ${[...(kty === 'EC' ? EC_ALGS : RSA_ALGS)].join(', ')} when given`;
  if (text.kid !== undefined && (!PICKUP_KID_PATTERN.test(text.kid) || containsApiKey(text.kid))) return `${where}.kid: must be 1-128 characters of [A-Za-z0-9._~:-]`;
  if (kty === 'EC') {
    if (text.crv !== 'P-256') return `${where}.crv: must be P-256`;
    if (base64urlBytes(text.x) !== 32 || base64urlBytes(text.y) !== 32) return `${where}: x and y must each be 32 bytes (base64url) for P-256`;
  } else {
    const bits = rsaModulusBits(text.n);
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return `${where}.n: the RSA modulus must be ${MIN_RSA_BITS}-${MAX_RSA_BITS} bits`;
    if (!text.e || base64urlBytes(text.e) > 8) return `${where}.e: must be the RSA public exponent (base64url)`;
  }
  const publicJwk: Record<string, string> = {};
  for (const member of [...allowed].filter((m) => text[m] !== undefined)) publicJwk[member] = text[member];
  try {
    // WebCrypto refuses a point that is not on the curve and a malformed modulus or exponent.
    await importJWK(publicJwk as JWK, kty === 'EC' ? 'ES256' : 'PS256');
  } catch {
    return `${where}: is not a usable ${kty === 'EC' ? 'EC P-256' : 'RSA'} public key`;
  }
  const kid = text.kid ?? (await calculateJwkThumbprint(publicJwk, 'sha256'));
  return { kid, jwk: publicJwk };
}

/** Decoded length of a base64url string (no padding), or -1 when it is not one. */
function base64urlBytes(text: string | undefined): number {
  if (text === undefined || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return -1;
  return Buffer.from(text, 'base64url').length;
}

function rsaModulusBits(n: string | undefined): number {
  if (base64urlBytes(n) <= 0) return 0;
  const bytes = Buffer.from(n!, 'base64url');
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]));
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function uniqueEndpoints(endpoints: readonly NotificationEndpoint[]): NotificationEndpoint[] {
  const byKey = new Map(endpoints.map((e) => [`${e.protocol}:${e.endpoint}`, e]));
  return [...byKey.keys()].sort().map((key) => byKey.get(key)!);
}

/** The same key given twice counts once; two different keys under one kid are refused (the pickup endpoint finds keys by kid). */
function distinctKids(keys: readonly PickupPublicKey[], where: string, issues: string[]): PickupPublicKey[] {
  const byKid = new Map<string, PickupPublicKey>();
  for (const key of keys) {
    const seen = byKid.get(key.kid);
    if (seen && canonicalJson(seen.jwk) !== canonicalJson(key.jwk)) {
      issues.push(`${where}: two different keys have the kid '${key.kid}'; each key needs its own kid`);
      continue;
    }
    byKid.set(key.kid, key);
  }
  return [...byKid.keys()].sort().map((kid) => byKid.get(kid)!);
}

function canonicalJson(record: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** `delivery` with `change` applied: each given list replaces the stored one. */
export function applyDeliveryChange(delivery: ClientDelivery | undefined, change: DeliveryChange): ClientDelivery {
  const base = delivery ?? { readers: [], endpoints: [], pickupKeys: [] };
  return { readers: change.readers ?? base.readers, endpoints: change.endpoints ?? base.endpoints, pickupKeys: change.pickupKeys ?? base.pickupKeys };
}

/** Whether two delivery settings mean the same (absent = none); both canonical, as parsed here. */
export function sameDelivery(a: ClientDelivery | undefined, b: ClientDelivery | undefined): boolean {
  return canonicalDelivery(a) === canonicalDelivery(b);
}

function canonicalDelivery(delivery: ClientDelivery | undefined): string {
  const d = delivery ?? { readers: [], endpoints: [], pickupKeys: [] };
  return JSON.stringify({
    readers: [...d.readers].sort(),
    endpoints: d.endpoints.map((e) => `${e.protocol}:${e.endpoint}`).sort(),
    pickupKeys: d.pickupKeys.map((k) => `${k.kid}=${canonicalJson(k.jwk)}`).sort(),
  });
}

/** An email address with its local part masked (`a***@example.com`), for the audit trail and output. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

/**
 * An endpoint as the audit trail and the CLI show it: an SQS queue ARN in full, an https URL
 * by its host only (its path or query may hold a token), an email address masked.
 */
export function describeEndpoint(endpoint: NotificationEndpoint): string {
  if (endpoint.protocol === 'sqs') return `sqs:${endpoint.endpoint}`;
  if (endpoint.protocol === 'https') {
    try {
      return `https:${new URL(endpoint.endpoint).host}`;
    } catch {
      return 'https:(unparsable)';
    }
  }
  return `email:${maskEmail(endpoint.endpoint)}`;
}

/**
 * What changed between two delivery settings, for the audit entry: readers, endpoints (as
 * {@link describeEndpoint}) and kids added (`+`) and removed (`-`). Empty when nothing changed.
 */
export function deliveryDifferences(before: ClientDelivery | undefined, after: ClientDelivery): string {
  const b = before ?? { readers: [], endpoints: [], pickupKeys: [] };
  const parts: string[] = [];
  const diff = (label: string, from: readonly string[], to: readonly string[]) => {
    const added = to.filter((x) => !from.includes(x));
    const removed = from.filter((x) => !to.includes(x));
    if (added.length || removed.length) parts.push(`${label} ${[...added.map((x) => `+${x}`), ...removed.map((x) => `-${x}`)].join(' ')}`);
  };
  diff('readers', b.readers, after.readers);
  // Keyed by the full endpoint (two webhooks on one host are two endpoints), shown as described.
  const shown = (endpoints: readonly NotificationEndpoint[]) => endpoints.map((e) => `${e.protocol}:${e.endpoint}`);
  const label = new Map([...b.endpoints, ...after.endpoints].map((e) => [`${e.protocol}:${e.endpoint}`, describeEndpoint(e)]));
  const beforeEndpoints = shown(b.endpoints);
  const afterEndpoints = shown(after.endpoints);
  const addedE = afterEndpoints.filter((x) => !beforeEndpoints.includes(x)).map((x) => `+${label.get(x)!}`);
  const removedE = beforeEndpoints.filter((x) => !afterEndpoints.includes(x)).map((x) => `-${label.get(x)!}`);
  if (addedE.length || removedE.length) parts.push(`endpoints ${[...addedE, ...removedE].join(' ')}`);
  // A kid whose key changed shows as removed and added.
  const keyed = (keys: readonly PickupPublicKey[]) => keys.map((k) => `${k.kid}=${canonicalJson(k.jwk)}`);
  const kidOf = (entry: string) => entry.slice(0, entry.indexOf('='));
  const beforeKeys = keyed(b.pickupKeys);
  const afterKeys = keyed(after.pickupKeys);
  const addedK = afterKeys.filter((x) => !beforeKeys.includes(x)).map((x) => `+${kidOf(x)}`);
  const removedK = beforeKeys.filter((x) => !afterKeys.includes(x)).map((x) => `-${kidOf(x)}`);
  if (addedK.length || removedK.length) parts.push(`pickupKeys ${[...addedK, ...removedK].join(' ')}`);
  return parts.join('; ');
}

/** The partition of an ARN (`arn:<partition>:…`), or undefined when `arn` is not one. */
export function partitionOf(arn: string): Partition | undefined {
  const partition = /^arn:([a-z-]+):/.exec(arn)?.[1];
  return (PARTITIONS as readonly string[]).includes(partition ?? '') ? (partition as Partition) : undefined;
}
