/**
 * Delivery settings validation (lambdas/core/delivery-request.ts): what each rule accepts and
 * refuses, canonical results (deduplicated, sorted), and issue lines that never carry a value.
 */
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { generateApiKey } from '../../lambdas/core/api-key';
import { MAX_ENDPOINTS, MAX_READERS } from '../../lambdas/core/delivery';
import { applyDeliveryChange, deliveryDifferences, describeEndpoint, maskEmail, parseDelivery, parseDeliveryChange, sameDelivery } from '../../lambdas/core/delivery-request';
import { InvalidOperationInputError } from '../../lambdas/core/errors';

const ROLE = 'arn:aws:iam::123456789012:role/consumer';
const QUEUE = 'arn:aws:sqs:eu-west-1:210987654321:acme-notices';

async function keyPair(kind: 'EC' | 'RSA', modulusLength = 2048): Promise<{ publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } = kind === 'EC' ? await generateKeyPair('ES256', { extractable: true }) : await generateKeyPair('PS256', { modulusLength, extractable: true });
  return { publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

/** The issues of a refused parse (fails the test if it was accepted). */
async function issuesOf(raw: unknown): Promise<string[]> {
  try {
    await parseDelivery(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOperationInputError);
    return [...(error as InvalidOperationInputError).issues];
  }
  throw new Error('accepted');
}

describe('readers', () => {
  it('accepts account roots, roles and users with paths, in every partition; deduplicates and sorts', async () => {
    const readers = ['arn:aws:iam::123456789012:user/ops/deploy+bot@example.com', ROLE, 'arn:aws:iam::123456789012:root', 'arn:aws:iam::123456789012:role/service-role/a/b/c=,.@_-', ROLE];
    const delivery = await parseDelivery({ readers });
    expect(delivery.readers).toEqual([...new Set(readers)].sort());
    expect((await parseDelivery({ readers: ['arn:aws-cn:iam::123456789012:root'] })).readers).toHaveLength(1);
    expect((await parseDelivery({ readers: ['arn:aws-us-gov:iam::123456789012:role/x'] })).readers).toHaveLength(1);
  });

  it.each([
    ['a wildcard', 'arn:aws:iam::123456789012:role/*', 'wildcards'],
    ['a wildcard account', 'arn:aws:iam::*:root', 'wildcards'],
    ['a short account', 'arn:aws:iam::12345678901:root', 'IAM principal ARN'],
    ['another partition', 'arn:aws-iso:iam::123456789012:root', 'IAM principal ARN'],
    ['a region', 'arn:aws:iam:us-east-1:123456789012:root', 'IAM principal ARN'],
    ['a group', 'arn:aws:iam::123456789012:group/admins', 'root, a role'],
    ['a role name of 65 characters', `arn:aws:iam::123456789012:role/${'r'.repeat(65)}`, 'role name must be 1-64'],
    ['a role name with a space', 'arn:aws:iam::123456789012:role/my role', 'role name'],
    ['an empty user name', 'arn:aws:iam::123456789012:user/', 'user name'],
    ['a path of 513 characters', `arn:aws:iam::123456789012:role/${'p'.repeat(512)}/name`, 'role path'],
    ['a service principal', 'lambda.amazonaws.com', 'IAM principal ARN'],
    ['an account id alone', '123456789012', 'IAM principal ARN'],
    // IAM would substitute it in the deny's condition (aws:PrincipalArn) but not in the Allow's Principal.
    ['a policy variable in the path', 'arn:aws:iam::210987654321:role/${aws:PrincipalTag/team}/app', 'policy variables'],
  ])('refuses %s', async (_what, arn, expected) => {
    const issues = await issuesOf({ readers: [arn] });
    expect(issues).toEqual([expect.stringContaining(expected)]);
    expect(issues[0]).toMatch(/^delivery\.readers\[0\]: /);
    expect(issues.join()).not.toContain(arn);
  });

  it("refuses the deployment's own account root, which would open the secret to its whole account; another account's root is a reader", async () => {
    await expect(parseDelivery({ readers: ['arn:aws:iam::123456789012:root'] }, { partition: 'aws', account: '123456789012' })).rejects.toMatchObject({
      issues: [expect.stringContaining("this deployment's own account root")],
    });
    expect((await parseDelivery({ readers: ['arn:aws:iam::210987654321:root'] }, { partition: 'aws', account: '123456789012' })).readers).toEqual(['arn:aws:iam::210987654321:root']);
  });

  it('refuses an assumed-role session with a hint to register the role', async () => {
    const issues = await issuesOf({ readers: ['arn:aws:sts::123456789012:assumed-role/consumer/i-0abc'] });
    expect(issues).toEqual([expect.stringMatching(/STS session ARN.*register the role instead: arn:<partition>:iam::<account>:role\/<name>/)]);
    expect(issues[0]).not.toContain('i-0abc');
  });

  it('refuses an API key pasted as a reader without printing it', async () => {
    const key = generateApiKey('kr');
    const issues = await issuesOf({ readers: [key, `arn:aws:iam::123456789012:role/${key}`] });
    expect(issues).toEqual([expect.stringContaining('not an API key'), expect.stringContaining('not an API key')]);
    expect(issues.join()).not.toContain(key.slice(3));
  });

  it(`refuses more than ${MAX_READERS} readers, and ARNs of two partitions`, async () => {
    const many = Array.from({ length: MAX_READERS + 1 }, (_, i) => `arn:aws:iam::${String(i).padStart(12, '0')}:root`);
    expect(await issuesOf({ readers: many })).toEqual([`delivery.readers: must have at most ${MAX_READERS} readers`]);
    expect(await issuesOf({ readers: [ROLE, 'arn:aws-cn:iam::123456789012:root'] })).toEqual(['delivery: every ARN must be in one partition']);
    await expect(parseDelivery({ readers: [ROLE] }, { partition: 'aws-cn' })).rejects.toMatchObject({ issues: ["delivery: every ARN must be in this deployment's partition (aws-cn)"] });
  });
});

describe('endpoints', () => {
  it('accepts an SQS queue of any account and region, an https URL and an email address; deduplicates and sorts', async () => {
    const endpoints = [
      { protocol: 'https', endpoint: 'https://hooks.example.com/keyroll?token=abc' },
      { protocol: 'sqs', endpoint: QUEUE },
      { protocol: 'email', endpoint: 'Ops.Team@Example.COM' },
      { protocol: 'sqs', endpoint: QUEUE },
    ];
    const delivery = await parseDelivery({ endpoints });
    expect(delivery.endpoints).toEqual([
      { protocol: 'email', endpoint: 'Ops.Team@example.com' },
      { protocol: 'https', endpoint: 'https://hooks.example.com/keyroll?token=abc' },
      { protocol: 'sqs', endpoint: QUEUE },
    ]);
  });

  it.each([
    ['sqs', 'arn:aws:sns:eu-west-1:210987654321:topic', 'SQS queue ARN'],
    ['sqs', 'arn:aws:sqs:eu-west-1:210987654321:*', 'SQS queue ARN'],
    ['sqs', `arn:aws:sqs:eu-west-1:210987654321:${'q'.repeat(81)}`, 'SQS queue ARN'],
    ['https', 'http://hooks.example.com/', 'https:// URL'],
    ['https', 'https://user:pass@hooks.example.com/', 'credentials'],
    ['https', 'https://hooks.example.com/#frag', 'fragment'],
    ['https', 'not a url', 'https:// URL'],
    ['https', `https://hooks.example.com/${'a'.repeat(2048)}`, 'at most 2048'],
    ['email', 'no-at-sign', 'email address'],
    ['email', 'a@b', 'email address'],
    ['email', 'a b@example.com', 'email address'],
    ['email', '<a@example.com>', 'email address'],
  ])('refuses %s endpoint %#', async (protocol, endpoint, expected) => {
    const issues = await issuesOf({ endpoints: [{ protocol, endpoint }] });
    expect(issues).toEqual([expect.stringContaining(expected)]);
    expect(issues.join()).not.toContain(endpoint);
  });

  it('refuses unknown protocols, unknown fields and too many endpoints', async () => {
    expect(await issuesOf({ endpoints: [{ protocol: 'lambda', endpoint: 'x' }] })).toEqual(['delivery.endpoints[0].protocol: must be one of sqs, https, email']);
    expect(await issuesOf({ endpoints: [{ protocol: 'sqs', endpoint: QUEUE, filter: {} }] })).toEqual([expect.stringContaining('delivery.endpoints[0].filter: is not allowed')]);
    const many = Array.from({ length: MAX_ENDPOINTS + 1 }, (_, i) => ({ protocol: 'email', endpoint: `a${i}@example.com` }));
    expect(await issuesOf({ endpoints: many })).toEqual([`delivery.endpoints: must have at most ${MAX_ENDPOINTS} endpoints`]);
  });

  it('describes endpoints without their secrets: https by host, email masked', () => {
    expect(describeEndpoint({ protocol: 'https', endpoint: 'https://hooks.example.com/x?token=s3cret' })).toBe('https:hooks.example.com');
    expect(describeEndpoint({ protocol: 'email', endpoint: 'ops.team@example.com' })).toBe('email:o***@example.com');
    expect(describeEndpoint({ protocol: 'sqs', endpoint: QUEUE })).toBe(`sqs:${QUEUE}`);
    expect(maskEmail('x@y.z')).toBe('x***@y.z');
  });
});

describe('pickup keys', () => {
  it('accepts EC P-256 and RSA-2048 public keys; the kid is the JWK kid or its RFC 7638 thumbprint', async () => {
    const ec = (await keyPair('EC')).publicJwk;
    const rsa = { ...(await keyPair('RSA')).publicJwk, kid: 'rsa-2026', alg: 'PS256', use: 'sig' };
    const delivery = await parseDelivery({ pickupKeys: [ec, rsa] });
    const thumbprint = await calculateJwkThumbprint(ec, 'sha256');
    expect(delivery.pickupKeys).toEqual(
      [
        { kid: thumbprint, jwk: ec },
        { kid: 'rsa-2026', jwk: rsa },
      ].sort((a, b) => (a.kid < b.kid ? -1 : 1)),
    );
  });

  it('refuses a private JWK by naming its private member, never its value', async () => {
    for (const kind of ['EC', 'RSA'] as const) {
      const { privateJwk } = await keyPair(kind);
      const issues = await issuesOf({ pickupKeys: [privateJwk] });
      expect(issues).toEqual(["delivery.pickupKeys[0]: is a private key (it has the private member 'd'); register the public key only, and keep the private key with the client"]);
      expect(issues.join()).not.toContain(privateJwk.d!);
    }
    expect(await issuesOf({ pickupKeys: [{ kty: 'oct', k: 'c2VjcmV0' }] })).toEqual([expect.stringContaining("private member 'k'")]);
  });

  it.each([
    // jose generates 2048 bits or more only.
    ['a 1024-bit RSA key', () => Promise.resolve(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' })), 'modulus must be 2048'],
    ['P-384', async () => ({ ...(await keyPair('EC')).publicJwk, crv: 'P-384' }), 'crv: must be P-256'],
    ['a point off the curve', async () => ({ ...(await keyPair('EC')).publicJwk, y: Buffer.alloc(32, 1).toString('base64url') }), 'not a usable EC P-256'],
    ['a short x', async () => ({ ...(await keyPair('EC')).publicJwk, x: 'AAAA' }), '32 bytes'],
    ['an Ed25519 key', async () => ({ kty: 'OKP', crv: 'Ed25519', x: Buffer.alloc(32).toString('base64url') }), 'kty: must be EC'],
    ['a certificate chain', async () => ({ ...(await keyPair('EC')).publicJwk, x5c: ['MII'] }), 'has members'],
    ['a number member', async () => ({ ...(await keyPair('EC')).publicJwk, kid: 7 }), 'kid: must be a string'],
    ['a kid with spaces', async () => ({ ...(await keyPair('EC')).publicJwk, kid: 'a b' }), 'kid: must be 1-128'],
    ['an alg of another kind', async () => ({ ...(await keyPair('EC')).publicJwk, alg: 'RS256' }), 'alg: must be one of ES256'],
    ['a PEM string', async () => '-----BEGIN PUBLIC KEY-----', 'must be a public JWK'],
  ])('refuses %s', async (_what, make, expected) => {
    expect(await issuesOf({ pickupKeys: [await make()] })).toEqual([expect.stringContaining(expected)]);
  });

  it('refuses two different keys under one kid and more than two keys; the same key twice counts once', async () => {
    const a = { ...(await keyPair('EC')).publicJwk, kid: 'k1' };
    const b = { ...(await keyPair('EC')).publicJwk, kid: 'k1' };
    expect(await issuesOf({ pickupKeys: [a, b] })).toEqual(["delivery.pickupKeys: two different keys have the kid 'k1'; each key needs its own kid"]);
    expect((await parseDelivery({ pickupKeys: [a, a] })).pickupKeys).toHaveLength(1);
    expect(await issuesOf({ pickupKeys: [a, a, a] })).toEqual(['delivery.pickupKeys: must have at most 2 pickup keys']);
  });
});

describe('the request as a whole', () => {
  it('lists every issue at once and refuses unknown fields and non-objects', async () => {
    const issues = await issuesOf({ readers: ['x'], endpoints: [{ protocol: 'email', endpoint: 'y' }], pickupKeys: [{ kty: 'EC', d: 'z' }] });
    expect(issues).toHaveLength(3);
    expect(await issuesOf({ reader: [ROLE] })).toEqual(['delivery.reader: is not allowed; the fields are readers, endpoints, pickupKeys']);
    expect(await issuesOf([ROLE])).toEqual(['delivery: must be a JSON object {readers, endpoints, pickupKeys}']);
    expect(await issuesOf({ readers: ROLE })).toEqual(['delivery.readers: must be a list of readers']);
    expect(await issuesOf({ readers: [42, null] })).toEqual(['delivery.readers[0]: must be a string', 'delivery.readers[1]: must be a string']);
  });

  it('a change replaces only the lists it gives; equality ignores order', async () => {
    const stored = await parseDelivery({ readers: [ROLE], endpoints: [{ protocol: 'sqs', endpoint: QUEUE }] });
    const change = await parseDeliveryChange({ readers: [] });
    expect(change).toEqual({ readers: [] });
    const next = applyDeliveryChange(stored, change);
    expect(next).toEqual({ readers: [], endpoints: stored.endpoints, pickupKeys: [] });
    expect(sameDelivery(stored, next)).toBe(false);
    expect(sameDelivery(undefined, { readers: [], endpoints: [], pickupKeys: [] })).toBe(true);
    expect(sameDelivery(stored, { ...stored, readers: [...stored.readers].reverse() })).toBe(true);
  });

  it('describes a change for the audit trail: ARNs, hosts, masked addresses, kids', async () => {
    const before = await parseDelivery({ readers: [ROLE], endpoints: [{ protocol: 'email', endpoint: 'ops@example.com' }] });
    const after = await parseDelivery({
      readers: ['arn:aws:iam::123456789012:root'],
      endpoints: [{ protocol: 'https', endpoint: 'https://hooks.example.com/t?token=s3cret' }],
      pickupKeys: [{ ...(await keyPair('EC')).publicJwk, kid: 'k1' }],
    });
    const detail = deliveryDifferences(before, after);
    expect(detail).toBe(`readers +arn:aws:iam::123456789012:root -${ROLE}; endpoints +https:hooks.example.com -email:o***@example.com; pickupKeys +k1`);
    expect(deliveryDifferences(after, after)).toBe('');
  });
});
