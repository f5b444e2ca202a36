/**
 * Smoke test for the moto harness (local/moto.ts + global setup):
 *  - real SDK clients, built WITHOUT an explicit endpoint, reach the moto server purely
 *    through AWS_ENDPOINT_URL;
 *  - the moto-executable resolver reports a helpful error (with injected deps, so it never
 *    pip-installs during tests).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, DeleteTopicCommand, GetTopicAttributesCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';

import { MOTO_REQUIREMENT, MotoUnavailableError, resolveMotoCommand, startMoto, type ProbeResult, type ResolveDeps } from '../../local/moto';

const suffix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** Records host:port of every request a client actually sends. */
function recordTargets(client: { middlewareStack: { add: (...args: any[]) => void } }): string[] {
  const seen: string[] = [];
  client.middlewareStack.add(
    (next: (a: any) => Promise<any>) => async (args: any) => {
      const req = args.request as { protocol?: string; hostname?: string; port?: number };
      seen.push(`${req.protocol}//${req.hostname}:${req.port}`);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordTargets' },
  );
  return seen;
}

describe('moto harness: SDK clients reach moto via AWS_ENDPOINT_URL only', () => {
  const endpoint = process.env.AWS_ENDPOINT_URL!;

  it('global setup exported the AWS environment', () => {
    expect(endpoint).toMatch(/^https?:\/\/[^/]+:\d+$/);
    expect(process.env.AWS_REGION).toBe('us-east-1');
    expect(process.env.AWS_DEFAULT_REGION).toBe('us-east-1');
    expect(process.env.AWS_ACCESS_KEY_ID).toBe('testing');
    expect(process.env.AWS_SECRET_ACCESS_KEY).toBe('testing');
    expect(process.env.AWS_SESSION_TOKEN).toBeUndefined();
    expect(process.env.AWS_EC2_METADATA_DISABLED).toBe('true');
  });

  it('Secrets Manager: staged versions round-trip', async () => {
    const sm = new SecretsManagerClient({});
    const targets = recordTargets(sm);
    const name = `keyroll/harness/${suffix}`;
    try {
      const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: '{"key":"v1"}' }));
      expect(created.ARN).toContain(`:secret:${name}`);
      const v1 = created.VersionId!;

      const pending = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: '{"key":"v2"}', VersionStages: ['AWSPENDING'] }));
      const v2 = pending.VersionId!;
      expect(pending.VersionStages).toEqual(['AWSPENDING']);

      expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('{"key":"v1"}');
      expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }))).SecretString).toBe('{"key":"v2"}');

      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: v2,
          RemoveFromVersionId: v1,
        }),
      );
      const described = await sm.send(new DescribeSecretCommand({ SecretId: name }));
      expect(described.VersionIdsToStages?.[v2]).toEqual(expect.arrayContaining(['AWSCURRENT']));
      expect(described.VersionIdsToStages?.[v1]).toEqual(['AWSPREVIOUS']);
      // NB: pass VersionStage explicitly. moto 5.2.1's UpdateSecretVersionStage moves the labels
      // but not its internal default version, so a GetSecretValue WITHOUT VersionStage still
      // returns v1 here (real AWS returns the AWSCURRENT version, v2).
      expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }))).SecretString).toBe('{"key":"v2"}');
      expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }))).SecretString).toBe('{"key":"v1"}');
    } finally {
      await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true })).catch(() => undefined);
      sm.destroy();
    }
    expect(targets.length).toBeGreaterThan(0);
    expect(new Set(targets)).toEqual(new Set([endpoint]));
  });

  it('DynamoDB: table create and item round trip', async () => {
    const ddb = new DynamoDBClient({});
    const targets = recordTargets(ddb);
    const table = `keyroll-harness-${suffix}`;
    try {
      await ddb.send(
        new CreateTableCommand({
          TableName: table,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      await waitUntilTableExists({ client: ddb, maxWaitTime: 30, minDelay: 1 }, { TableName: table });
      await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'client#1' }, n: { N: '42' } } }));
      const got = await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'client#1' } }, ConsistentRead: true }));
      expect(got.Item).toEqual({ pk: { S: 'client#1' }, n: { N: '42' } });
    } finally {
      await ddb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
      ddb.destroy();
    }
    expect(new Set(targets)).toEqual(new Set([endpoint]));
  });

  it('SNS: topic create, attributes and publish', async () => {
    const sns = new SNSClient({});
    const targets = recordTargets(sns);
    let topicArn: string | undefined;
    try {
      topicArn = (await sns.send(new CreateTopicCommand({ Name: `keyroll-harness-${suffix}` }))).TopicArn;
      expect(topicArn).toMatch(/^arn:aws:sns:us-east-1:\d{12}:keyroll-harness-/);
      const attrs = await sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }));
      expect(attrs.Attributes?.TopicArn).toBe(topicArn);
      const pub = await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'rotated' }));
      expect(pub.MessageId).toEqual(expect.any(String));
    } finally {
      if (topicArn) await sns.send(new DeleteTopicCommand({ TopicArn: topicArn })).catch(() => undefined);
      sns.destroy();
    }
    expect(new Set(targets)).toEqual(new Set([endpoint]));
  });

  it('startMoto() with KEYROLL_EXTERNAL_ENDPOINT=1 reuses AWS_ENDPOINT_URL and starts nothing', async () => {
    const saved = process.env.KEYROLL_EXTERNAL_ENDPOINT;
    process.env.KEYROLL_EXTERNAL_ENDPOINT = '1';
    try {
      const handle = await startMoto();
      expect(handle.endpoint).toBe(endpoint);
      expect(handle.external).toBe(true);
      expect(handle.pid).toBeUndefined();
      await handle.stop();
    } finally {
      if (saved === undefined) delete process.env.KEYROLL_EXTERNAL_ENDPOINT;
      else process.env.KEYROLL_EXTERNAL_ENDPOINT = saved;
    }
  });
});

describe('resolveMotoCommand', () => {
  let tmp: string;
  const log = jest.fn<void, [string]>();
  const noVenv = jest.fn<Promise<void>, Parameters<ResolveDeps['createVenv']>>(async () => {
    throw new Error('createVenv must not run in this test');
  });

  beforeEach(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'keyroll-moto-'));
    log.mockClear();
    noVenv.mockClear();
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const expectRemedy = (message: string) => {
    expect(message).toContain(`pip install '${MOTO_REQUIREMENT}'`);
    expect(message).toContain('MOTO_SERVER');
    expect(message).toContain('AWS_ENDPOINT_URL=');
    expect(message).toContain('KEYROLL_EXTERNAL_ENDPOINT=1');
  };

  it('fails fast, naming the path, when MOTO_SERVER points at a missing file (PATH emptied)', async () => {
    const missing = path.join(tmp, 'nope', 'moto_server');
    const err = await resolveMotoCommand({
      env: { PATH: '', MOTO_SERVER: missing },
      projectRoot: tmp,
      createVenv: noVenv,
      log,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MotoUnavailableError);
    const message = (err as Error).message;
    expect(message).toContain(`MOTO_SERVER=${missing}`);
    expect(message).toContain('does not exist or is not an executable');
    expectRemedy(message);
    expect(noVenv).not.toHaveBeenCalled();
  });

  it('reports the underlying failure when MOTO_SERVER exists but does not run', async () => {
    const broken = path.join(tmp, 'moto_server');
    writeFileSync(broken, '#!/bin/sh\necho "ModuleNotFoundError: No module named flask" >&2\nexit 3\n', { mode: 0o755 });
    const err = (await resolveMotoCommand({ env: { PATH: '/usr/bin:/bin', MOTO_SERVER: broken }, projectRoot: tmp, createVenv: noVenv, log }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(MotoUnavailableError);
    expect(err.message).toContain('exited with code 3');
    expect(err.message).toContain('No module named flask');
    expectRemedy(err.message);
  });

  it('lists every step tried when nothing is available (real probes, PATH emptied, no python3 => no venv attempt)', async () => {
    const err = (await resolveMotoCommand({ env: { PATH: '' }, projectRoot: tmp, createVenv: noVenv, log }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(MotoUnavailableError);
    expect(err.message).toContain('moto_server: not found on PATH');
    expect(err.message).toContain('python3: not found on PATH');
    expect(err.message).toContain(`${path.join(tmp, '.venv', 'moto', 'bin', 'moto_server')}: not present`);
    expect(err.message).toContain('skipped, no python3 on PATH');
    expectRemedy(err.message);
    expect(noVenv).not.toHaveBeenCalled();
  });

  /** Fake world: which executables exist and which probes succeed. */
  function fakeDeps(world: { onPath?: string[]; files?: string[]; probeOk?: (cmd: string, args: string[]) => boolean }) {
    const files = new Set(world.files ?? []);
    const probe = jest.fn(async (cmd: string, args: string[]): Promise<ProbeResult> =>
      world.probeOk?.(cmd, args) ? { ok: true, detail: '' } : { ok: false, detail: `\`${cmd} ${args.join(' ')}\` exited with code 1: boom` },
    );
    const deps: Partial<ResolveDeps> = {
      env: { PATH: '/fake/bin' },
      projectRoot: tmp,
      findOnPath: (name) => (world.onPath?.includes(name) ? `/fake/bin/${name}` : undefined),
      isExecutable: (f) => files.has(f),
      probe,
      createVenv: noVenv,
      log,
    };
    return { deps, probe, files };
  }
  const venvMoto = () => path.join(tmp, '.venv', 'moto', 'bin', 'moto_server');

  it('prefers moto_server on PATH', async () => {
    const { deps } = fakeDeps({ onPath: ['moto_server', 'python3'], probeOk: () => true });
    await expect(resolveMotoCommand(deps)).resolves.toMatchObject({ command: '/fake/bin/moto_server', args: [] });
  });

  it('skips a broken moto_server shim and falls back to python3 -m moto.server', async () => {
    const { deps } = fakeDeps({ onPath: ['moto_server', 'python3'], probeOk: (cmd) => cmd.endsWith('python3') });
    await expect(resolveMotoCommand(deps)).resolves.toMatchObject({ command: '/fake/bin/python3', args: ['-m', 'moto.server'] });
  });

  it('falls back to an existing project venv', async () => {
    const { deps } = fakeDeps({ onPath: ['python3'], files: [venvMoto()], probeOk: (cmd) => cmd === venvMoto() });
    await expect(resolveMotoCommand(deps)).resolves.toMatchObject({ command: venvMoto(), args: [] });
  });

  it('creates the venv as a last resort (injected installer)', async () => {
    const { deps, files } = fakeDeps({ onPath: ['python3'], probeOk: (cmd) => cmd === venvMoto() });
    const createVenv = jest.fn(async (_py: string, venvDir: string) => {
      files.add(path.join(venvDir, 'bin', 'moto_server'));
    });
    await expect(resolveMotoCommand({ ...deps, createVenv })).resolves.toMatchObject({ command: venvMoto() });
    expect(createVenv).toHaveBeenCalledWith('/fake/bin/python3', path.join(tmp, '.venv', 'moto'), expect.anything());
  });

  it('includes the installer failure when venv creation fails', async () => {
    const { deps } = fakeDeps({ onPath: ['python3'] });
    const createVenv = jest.fn(async () => {
      throw new Error('pip: Could not find a version that satisfies the requirement (network unreachable)');
    });
    const err = (await resolveMotoCommand({ ...deps, createVenv }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(MotoUnavailableError);
    expect(err.message).toContain('network unreachable');
    expect(err.message).toContain('python3 -m moto.server (/fake/bin/python3)');
    expectRemedy(err.message);
  });
});
