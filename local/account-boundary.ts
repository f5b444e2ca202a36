/**
 * The boundary between two emulated accounts for Secrets Manager: an endpoint a consumer in
 * account B (local/emulated-accounts.ts) points its SDK at, which decides each GetSecretValue of
 * the owner's secret as AWS would, then forwards an allowed request to the owner's account in
 * moto or answers AccessDeniedException.
 *
 * Why: moto keeps one backend per account, and a GetSecretValue by the ARN of another account's
 * secret is looked up in the caller's own backend: it never reaches the owner's secret and no
 * policy is evaluated. A cross-account test through moto alone would pass on behaviour AWS does
 * not have (or fail for a reason AWS does not have).
 *
 * The decision (local/access-evaluation.ts): the caller's identity policies (registered with
 * {@link AccountBoundary.register}) with the secret's resource policy read from moto
 * (GetResourcePolicy), then kms:Decrypt through Secrets Manager on the secret's key: the key
 * policy (from the synthesized template: moto's keys carry their default policy) with the
 * identity policies, or a grant on the key read from moto (ListGrants). Cross-account, AWS
 * requires both the identity policy and the resource policy to allow
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html),
 * and "to retrieve a secret in another account, you must use the secret's ARN" (the SecretId
 * must be the full ARN: https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples_cross.html).
 *
 * The caller is recognised by the access key of its SigV4 Authorization header; the signature
 * itself is not verified (moto verifies none either). Requests other than GetSecretValue of an
 * owner's secret go to moto unchanged, in the caller's own account.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeKeyCommand, KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms';
import { DescribeSecretCommand, GetResourcePolicyCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { evaluateSecretRead, type Caller, type KmsGrant, type PolicyDocument } from './access-evaluation';
import { HOME_ACCOUNT } from './emulated-accounts';

/** moto's header naming the account a request acts in (it beats the access key's account). */
const MOTO_ACCOUNT_HEADER = 'x-moto-account-id';

/** What the boundary decided for one GetSecretValue. */
export interface BoundaryDecision {
  readonly principalArn: string;
  readonly secretId: string;
  readonly versionStage?: string;
  readonly versionId?: string;
  readonly allowed: boolean;
  /** `secretsmanager: <result>`, `kms: <result or grant>`, or why the request could not be judged. */
  readonly reason: string;
}

/** Options of startAccountBoundary. */
export interface AccountBoundaryOptions {
  /** The key policy of a KMS key of the owner (from the synthesized template, resolved). */
  readonly keyPolicyOf: (keyArn: string) => PolicyDocument;
  /** moto (or its serialising proxy). @default process.env.AWS_ENDPOINT_URL */
  readonly motoEndpoint?: string;
  /** The owner's account, whose secrets the boundary guards. @default HOME_ACCOUNT */
  readonly ownerAccount?: string;
}

/** A running boundary. */
export interface AccountBoundary {
  /** `http://127.0.0.1:<port>`: the consumer's Secrets Manager endpoint. */
  readonly endpoint: string;
  /** Every GetSecretValue of an owner's secret judged so far. */
  readonly decisions: readonly BoundaryDecision[];
  /** Registers the principal that `accessKeyId` acts as, with its identity policies. */
  register(accessKeyId: string, caller: Caller): void;
  close(): Promise<void>;
}

const accessKeyOf = (authorization: string | undefined): string | undefined => /Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1];

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ __type: type, message }));
}

/** Starts the boundary on a free loopback port. */
export async function startAccountBoundary(options: AccountBoundaryOptions): Promise<AccountBoundary> {
  const motoEndpoint = options.motoEndpoint ?? process.env.AWS_ENDPOINT_URL;
  if (!motoEndpoint) throw new Error('startAccountBoundary: no moto endpoint (AWS_ENDPOINT_URL is not set)');
  const owner = options.ownerAccount ?? HOME_ACCOUNT;
  const target = new URL(motoEndpoint);
  const callers = new Map<string, Caller>();
  const decisions: BoundaryDecision[] = [];
  // The owner's view, with the owner's (default) credentials: what the services read when they decide.
  const ownerSm = new SecretsManagerClient({ endpoint: motoEndpoint, maxAttempts: 1 });
  const ownerKms = new KMSClient({ endpoint: motoEndpoint, maxAttempts: 1 });

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, account?: string): void => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && name !== 'host' && name !== 'connection') headers[name] = value;
    headers['content-length'] = String(body.length);
    if (account) headers[MOTO_ACCOUNT_HEADER] = account;
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstream.on('error', (error) => answer(res, 502, 'ServiceUnavailable', `boundary could not reach moto: ${error.message}`));
    upstream.end(body);
  };

  const judge = async (caller: Caller, secretId: string, versionStage: string | undefined, versionId: string | undefined): Promise<BoundaryDecision> => {
    const base = { principalArn: caller.principalArn, secretId, versionStage, versionId };
    let described;
    try {
      described = await ownerSm.send(new DescribeSecretCommand({ SecretId: secretId }));
    } catch (error) {
      // AWS answers a caller without access the same whether or not the secret exists.
      return { ...base, allowed: false, reason: `secret unreadable by the owner: ${(error as Error).name}` };
    }
    const secretArn = described.ARN!;
    const stages = described.VersionIdsToStages ?? {};
    const resolvedVersion = versionId ?? Object.keys(stages).find((id) => stages[id].includes(versionStage ?? 'AWSCURRENT')) ?? '';
    const policy = (await ownerSm.send(new GetResourcePolicyCommand({ SecretId: secretArn }))).ResourcePolicy;
    if (!described.KmsKeyId) return { ...base, allowed: false, reason: 'secret has no customer managed key: AWS refuses aws/secretsmanager across accounts' };
    const key = (await ownerKms.send(new DescribeKeyCommand({ KeyId: described.KmsKeyId }))).KeyMetadata!;
    const grants: KmsGrant[] = [];
    let marker: string | undefined;
    do {
      const page = await ownerKms.send(new ListGrantsCommand({ KeyId: key.KeyId!, Marker: marker }));
      grants.push(...((page.Grants ?? []) as KmsGrant[]));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    const decision = await evaluateSecretRead(
      caller,
      { versionStage, versionId },
      { secretArn, secretPolicy: policy, versionId: resolvedVersion, keyArn: key.Arn!, keyPolicy: options.keyPolicyOf(key.Arn!), grants },
    );
    return { ...base, allowed: decision.allowed, reason: `${decision.step}: ${decision.reason}` };
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const caller = callers.get(accessKeyOf(req.headers.authorization) ?? '');
      if (!caller) {
        answer(res, 400, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
        return;
      }
      let input: { SecretId?: string; VersionStage?: string; VersionId?: string } = {};
      try {
        input = JSON.parse(body.toString('utf8') || '{}') as typeof input;
      } catch {
        forward(req, body, res);
        return;
      }
      const secretId = input.SecretId ?? '';
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue' || secretId.split(':')[4] !== owner) {
        forward(req, body, res);
        return;
      }
      const decision = await judge(caller, secretId, input.VersionStage, input.VersionId);
      decisions.push(decision);
      if (!decision.allowed) {
        answer(res, 400, 'AccessDeniedException', `User: ${caller.principalArn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId} (${decision.reason})`);
        return;
      }
      forward(req, body, res, owner);
    })().catch((error: unknown) => answer(res, 500, 'InternalServiceError', String(error)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    decisions,
    register: (accessKeyId, caller) => void callers.set(accessKeyId, caller),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
