/** guardedUpdate: the one builder of guarded UpdateItem expressions (pure, no DynamoDB). */
import { guardedUpdate } from '../../lambdas/aws/update-expression';

describe('guardedUpdate', () => {
  it('puts every name behind #name and every value behind :vN; dotted paths name each part', () => {
    expect(guardedUpdate({ require: ['attribute_exists(pk)'], expect: { 'lock.rotationId': 'r1', pendingRotationId: null }, set: { updatedAt: 'T1' }, remove: ['lock'] })).toEqual({
      UpdateExpression: 'SET #updatedAt = :v1 REMOVE #lock',
      ConditionExpression: 'attribute_exists(pk) AND #lock.#rotationId = :v0 AND attribute_not_exists(#pendingRotationId)',
      ExpressionAttributeNames: { '#lock': 'lock', '#rotationId': 'rotationId', '#pendingRotationId': 'pendingRotationId', '#updatedAt': 'updatedAt' },
      ExpressionAttributeValues: { ':v0': 'r1', ':v1': 'T1' },
    });
  });

  it('leaves out an undefined value, and the values map when nothing needs one', () => {
    expect(guardedUpdate({ expect: { state: 'ACTIVE' }, set: { state: 'RETIRING', notAfter: 'T2', revokedAt: undefined } })).toEqual({
      UpdateExpression: 'SET #state = :v1, #notAfter = :v2',
      ConditionExpression: '#state = :v0',
      ExpressionAttributeNames: { '#state': 'state', '#notAfter': 'notAfter' },
      ExpressionAttributeValues: { ':v0': 'ACTIVE', ':v1': 'RETIRING', ':v2': 'T2' },
    });
    const removeOnly = guardedUpdate({ require: ['attribute_exists(pk)'], remove: ['lock'] });
    expect(removeOnly).toEqual({ UpdateExpression: 'REMOVE #lock', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: { '#lock': 'lock' } });
    expect('ExpressionAttributeValues' in removeOnly).toBe(false);
  });
});
