/**
 * The test emulator's Secrets Manager answers as the API reference documents, where moto 5.2
 * is more lenient (local/moto-patches/sitecustomize.py, the secrets-* patches), so that no test
 * can pass on behaviour AWS does not have. Each case says whether unpatched moto 5.2.1
 * differed (measured) and cites the doc; where the doc is silent the strict reading is
 * taken and the test says so.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { newRotationId, uniqueName } from '../support/fixtures';
import { enableNativeRotation } from '../support/native-rotation';

const UPDATE_STAGE_DOC = 'https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html';
const PUT_VALUE_DOC = 'https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html';
const DESCRIBE_DOC = 'https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html';
const LIST_VERSIONS_DOC = 'https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ListSecretVersionIds.html';
const GET_VALUE_DOC = 'https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html';

const sm = new SecretsManagerClient({ maxAttempts: 1 });
const FENCE = 'KEYROLL_FENCE';

/** Version id → sorted labels, exactly as DescribeSecret reports them (empty lists kept, to see them). */
async function described(name: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [id, stages] of Object.entries((await sm.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages ?? {})) {
    out[id] = [...stages].sort();
  }
  return out;
}

/** The labelled versions only: for cases about something else, so that they measure only their own subject. */
async function labelled(name: string): Promise<Record<string, string[]>> {
  return Object.fromEntries(Object.entries(await described(name)).filter(([, stages]) => stages.length > 0));
}

const put = (name: string, versionId: string, stages?: string[], data = `value-of-${versionId}`) =>
  sm.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: versionId, SecretString: data, VersionStages: stages }));

const stage = (name: string, label: string, to: string | undefined, from: string | undefined) =>
  sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: label, MoveToVersionId: to, RemoveFromVersionId: from }));

/** A secret whose first version `v1` is AWSCURRENT, and two more ids for later versions. */
async function freshSecret() {
  const name = `keyroll-test/${uniqueName('strict')}`;
  const v1 = newRotationId();
  await sm.send(new CreateSecretCommand({ Name: name, SecretString: `value-of-${v1}`, ClientRequestToken: v1 }));
  return { name, v1, v2: newRotationId(), v3: newRotationId() };
}

/** Expects `call` to fail with `name` and the secret's labels to be exactly as before. */
async function expectRefusedUnchanged(secret: string, call: () => Promise<unknown>, name: string): Promise<void> {
  const before = await described(secret);
  await expect(call()).rejects.toMatchObject({ name });
  expect(await described(secret)).toEqual(before);
}

describe(`UpdateSecretVersionStage is a compare-and-set on the label (${UPDATE_STAGE_DOC})`, () => {
  // "If the staging label you are trying to attach to one version is already attached to a
  // different version, then you must include this parameter [RemoveFromVersionId] ... If the
  // label is attached and you either do not specify this parameter, or the version ID does
  // not match, then the operation fails."
  it('moving a label attached to another version without RemoveFromVersionId fails and changes nothing (moto attached it twice)', async () => {
    const { name, v1, v2, v3 } = await freshSecret();
    await put(name, v2, [FENCE]);
    await put(name, v3, ['AWSPENDING']);
    await expectRefusedUnchanged(name, () => stage(name, FENCE, v3, undefined), 'InvalidParameterException');
    await expectRefusedUnchanged(name, () => stage(name, 'AWSPENDING', v2, undefined), 'InvalidParameterException');
    await expectRefusedUnchanged(name, () => stage(name, 'AWSCURRENT', v2, undefined), 'InvalidParameterException');
    expect(await described(name)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: [FENCE], [v3]: ['AWSPENDING'] });
  });

  it('moving a label with a RemoveFromVersionId that does not carry it fails and changes nothing (moto agreed)', async () => {
    const { name, v1, v2, v3 } = await freshSecret();
    await put(name, v2, [FENCE]);
    await put(name, v3, ['AWSPENDING']);
    await expectRefusedUnchanged(name, () => stage(name, FENCE, v3, v1), 'InvalidParameterException');
    await expectRefusedUnchanged(name, () => stage(name, 'AWSCURRENT', v3, v2), 'InvalidParameterException');
    // A label attached nowhere: the doc only covers an attached label; strict reading, moto agreed.
    await expectRefusedUnchanged(name, () => stage(name, 'UNUSED_LABEL', v3, v2), 'InvalidParameterException');
  });

  it('a refused move changes nothing, even when RemoveFromVersionId matched (moto removed the label, then failed)', async () => {
    const { name, v2 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    await expectRefusedUnchanged(name, () => stage(name, 'AWSPENDING', newRotationId(), v2), 'InvalidParameterException');
  });

  it('a move whose RemoveFromVersionId matches succeeds; AWSCURRENT takes AWSPREVIOUS to the version it left (moto agreed)', async () => {
    const { name, v1, v2, v3 } = await freshSecret();
    await put(name, v2, ['AWSPENDING', FENCE]);
    await stage(name, FENCE, v1, v2);
    expect(await described(name)).toEqual({ [v1]: ['AWSCURRENT', FENCE].sort(), [v2]: ['AWSPENDING'] });
    // "Whenever you move AWSCURRENT, Secrets Manager automatically moves the label AWSPREVIOUS
    // to the version that AWSCURRENT was removed from."
    await stage(name, 'AWSCURRENT', v2, v1);
    expect(await described(name)).toEqual({ [v1]: ['AWSPREVIOUS', FENCE].sort(), [v2]: ['AWSCURRENT', 'AWSPENDING'].sort() });
    await put(name, v3, ['AWSPENDING']);
    await stage(name, 'AWSCURRENT', v3, v2);
    expect(await described(name)).toEqual({ [v1]: [FENCE], [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT', 'AWSPENDING'].sort() });
  });

  it('a move to the version that already carries the label: refused without RemoveFromVersionId, a no-op with it (doc silent: strict reading)', async () => {
    const { name, v1, v2 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    // "If the label is attached and you ... do not specify this parameter ... the operation fails":
    // read strictly, also when it is attached to MoveToVersionId itself (moto attached AWSPENDING twice).
    await expectRefusedUnchanged(name, () => stage(name, 'AWSPENDING', v2, undefined), 'InvalidParameterException');
    await stage(name, 'AWSCURRENT', v2, v1);
    const before = await described(name);
    expect(before).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT', 'AWSPENDING'].sort() });
    // With the matching RemoveFromVersionId the label stays where it is and AWSPREVIOUS stays
    // too: AWSCURRENT was not removed from any version (moto dropped AWSPREVIOUS here).
    await stage(name, 'AWSCURRENT', v2, v2);
    await stage(name, 'AWSPENDING', v2, v2);
    expect(await described(name)).toEqual(before);
  });

  it('remove-only: the label must be on RemoveFromVersionId; AWSCURRENT cannot be removed; a call naming no version fails (doc silent on the last two: strict reading)', async () => {
    const { name, v1, v2 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    // Doc: a RemoveFromVersionId that does not match the label's version fails (moto agreed),
    // also for a label attached nowhere (strict reading, moto agreed).
    await expectRefusedUnchanged(name, () => stage(name, 'AWSPENDING', undefined, v1), 'InvalidParameterException');
    await expectRefusedUnchanged(name, () => stage(name, 'UNUSED_LABEL', undefined, v1), 'InvalidParameterException');
    // moto removed AWSCURRENT and left the secret without one; moto accepted a call naming no version.
    await expectRefusedUnchanged(name, () => stage(name, 'AWSCURRENT', undefined, v1), 'InvalidParameterException');
    await expectRefusedUnchanged(name, () => stage(name, 'AWSPENDING', undefined, undefined), 'InvalidParameterException');
    await stage(name, 'AWSPENDING', undefined, v2);
    expect(await described(name)).toEqual({ [v1]: ['AWSCURRENT'] });
  });
});

describe(`versions without labels are deprecated (${DESCRIBE_DOC}, ${LIST_VERSIONS_DOC})`, () => {
  it('leave DescribeSecret, and ListSecretVersionIds unless IncludeDeprecated; GetSecretValue by VersionId still reads them (moto listed them everywhere)', async () => {
    const { name, v1, v2 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    await stage(name, 'AWSPENDING', undefined, v2);
    // VersionIdsToStages: "A list of the versions of the secret that have staging labels
    // attached. Versions that don't have staging labels are considered deprecated" (moto listed v2 with []).
    expect(await described(name)).toEqual({ [v1]: ['AWSCURRENT'] });
    // IncludeDeprecated: "By default, versions without staging labels aren't included." (moto included them.)
    const listed = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    expect((listed.Versions ?? []).map((v) => v.VersionId)).toEqual([v1]);
    const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    expect((all.Versions ?? []).map((v) => v.VersionId).sort()).toEqual([v1, v2].sort());
    // PutSecretValue (PUT_VALUE_DOC): Secrets Manager "does not remove versions created less
    // than 24 hours ago", so a fresh unlabelled version still reads (moto agreed).
    const read = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: v2 }));
    expect(read.SecretString).toBe(`value-of-${v2}`);
  });
});

describe(`PutSecretValue with a ClientRequestToken that names a version (${PUT_VALUE_DOC})`, () => {
  // "If you call this operation with a ClientRequestToken that matches an existing version's
  // VersionId, and you specify the same secret data, the operation succeeds but does nothing.
  // However, if the secret data is different, then the operation fails because you can't
  // modify an existing version".
  it('same data succeeds and does nothing: no label moves back, none is lost (moto rewrote a version carrying AWSPENDING)', async () => {
    const { name, v1, v2 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    await stage(name, 'AWSCURRENT', v2, v1);
    const finished = await described(name);
    expect(finished).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT', 'AWSPENDING'].sort() });
    // A late retry of the pending write lands after the label move (moto stripped AWSCURRENT from v2).
    const answer = await put(name, v2, ['AWSPENDING']);
    expect(answer.VersionId).toBe(v2);
    expect(await described(name)).toEqual(finished);
    // Same data with other stages still does nothing (moto moved AWSCURRENT back to v2).
    const other = await freshSecret();
    await put(other.name, other.v2, ['AWSPENDING']);
    await put(other.name, other.v2, ['AWSCURRENT']);
    await put(other.name, other.v2);
    expect(await described(other.name)).toEqual({ [other.v1]: ['AWSCURRENT'], [other.v2]: ['AWSPENDING'] });
  });

  it('different data fails with ResourceExistsException and keeps the stored value, whatever the labels (moto overwrote an AWSPENDING version)', async () => {
    const { name, v2, v3 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    await expectRefusedUnchanged(name, () => put(name, v2, ['AWSPENDING'], 'another value'), 'ResourceExistsException');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: v2 }))).SecretString).toBe(`value-of-${v2}`);
    // An unlabelled version too (moto agreed).
    await put(name, v3, ['AWSPENDING']);
    await expectRefusedUnchanged(name, () => put(name, v2, ['AWSPENDING'], 'another value'), 'ResourceExistsException');
  });

  it('VersionStages naming a label attached elsewhere moves it, a custom label included (moto agreed)', async () => {
    const { name, v1, v2, v3 } = await freshSecret();
    await put(name, v2, [FENCE]);
    await put(name, v3, [FENCE, 'AWSPENDING']);
    expect(await labelled(name)).toEqual({ [v1]: ['AWSCURRENT'], [v3]: ['AWSPENDING', FENCE].sort() });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: FENCE }))).VersionId).toBe(v3);
  });

  it('VersionStages [AWSPENDING] takes AWSPENDING off the AWSCURRENT version, which keeps AWSCURRENT; AWSPREVIOUS stays (moto agreed for PutSecretValue)', async () => {
    // The label life cycle of KeyRoll's rotations: a finished rotation leaves AWSPENDING on its
    // (current) version, the next PutSecretValue takes it ("If you specify a staging label
    // that's already associated with a different version of the same secret, then Secrets
    // Manager removes the label from the other version and attaches it to this version"), and
    // the AWSCURRENT move puts AWSPREVIOUS on the version it left (UPDATE_STAGE_DOC): two writes.
    const { name, v1, v2, v3 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    await stage(name, 'AWSCURRENT', v2, v1);
    expect(await labelled(name)).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT', 'AWSPENDING'].sort() });
    await put(name, v3, ['AWSPENDING']);
    expect(await labelled(name)).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'], [v3]: ['AWSPENDING'] });
    await stage(name, 'AWSCURRENT', v3, v2);
    expect(await labelled(name)).toEqual({ [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT', 'AWSPENDING'].sort() });
    // Moving AWSCURRENT back onto the AWSPREVIOUS version (a rollback) takes AWSPREVIOUS to the
    // version AWSCURRENT left, with its AWSPENDING.
    await stage(name, 'AWSCURRENT', v2, v3);
    expect(await labelled(name)).toEqual({ [v2]: ['AWSCURRENT'], [v3]: ['AWSPENDING', 'AWSPREVIOUS'].sort() });
  });

  it('moving AWSCURRENT moves AWSPREVIOUS from the version that carries AWSCURRENT, whose other labels stay (moto used a stale default version)', async () => {
    const { name, v1, v2, v3 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    await stage(name, 'AWSCURRENT', v2, v1);
    // VersionStages: "If you specify AWSCURRENT, and it is already attached to another version,
    // then Secrets Manager also moves the staging label AWSPREVIOUS to the version that
    // AWSCURRENT was removed from." (moto left AWSCURRENT on v2 as well, and moved AWSPREVIOUS to v1 again.)
    await put(name, v3, [FENCE, 'AWSCURRENT']);
    expect(await labelled(name)).toEqual({ [v2]: ['AWSPENDING', 'AWSPREVIOUS'], [v3]: ['AWSCURRENT', FENCE].sort() });
  });
});

describe(`GetSecretValue without VersionId or VersionStage (${GET_VALUE_DOC})`, () => {
  it('returns the AWSCURRENT version after UpdateSecretVersionStage moved it (moto returned the first version)', async () => {
    // VersionId: "If you don't specify either a VersionStage or VersionId, then Secrets Manager returns the AWSCURRENT version."
    const { name, v1, v2 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    await stage(name, 'AWSCURRENT', v2, v1);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).VersionId).toBe(v2);
  });
});

describe('rotation configuration and resource policy (measured; moto agrees where checked)', () => {
  it(`DescribeSecret has no RotationEnabled before rotation was configured, and true after (${DESCRIBE_DOC})`, async () => {
    // RotationEnabled: "If the secret has never been configured for rotation, Secrets Manager returns null."
    const { name, v1, v2 } = await freshSecret();
    await put(name, v2, ['AWSPENDING']);
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).RotationEnabled).toBeUndefined();
    await enableNativeRotation(name, sm);
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).RotationEnabled).toBe(true);
    expect(await labelled(name)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: ['AWSPENDING'] });
  });

  it('PutResourcePolicy / GetResourcePolicy keep a policy that denies RotateSecret (moto stores it but does not enforce it)', async () => {
    const { name } = await freshSecret();
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 'secretsmanager:RotateSecret', Resource: '*' }],
    });
    await sm.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: policy }));
    expect(JSON.parse((await sm.send(new GetResourcePolicyCommand({ SecretId: name }))).ResourcePolicy ?? 'null')).toEqual(JSON.parse(policy));
  });
});
