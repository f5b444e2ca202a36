/**
 * A header value that is not a string (a malformed or hand-built authorizer event: null, a
 * number, an array) made the event reader call `.trim()` on it: a TypeError, which API Gateway
 * turns into a 500 instead of a 401. Such a value now counts as absent.
 */
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { credentialFrom, readAuthorizerEvent, type AuthorizerEvent } from '../../lambdas/aws/auth/authorizer-events';

const NON_STRINGS: unknown[] = [null, 42, true, ['Bearer x'], { value: 'x' }, Buffer.from('x')];

it.each(NON_STRINGS.map((value) => ({ value, title: JSON.stringify(value) })))('a header value of $title counts as absent', ({ value }) => {
  expect(credentialFrom(value)).toBeUndefined();
  expect(credentialFrom(value, value)).toBeUndefined();
  expect(credentialFrom(value, ' kr_abc ')).toBe('kr_abc');
  const http = { version: '2.0', routeKey: 'GET /orders', headers: { authorization: value, 'x-api-key': value } } as unknown as APIGatewayRequestAuthorizerEventV2;
  expect(readAuthorizerEvent(http).presented).toBeUndefined();
  const token = { type: 'TOKEN', authorizationToken: value, methodArn: 'arn:aws:execute-api:us-east-1:1:a/p/GET/orders' } as unknown as AuthorizerEvent;
  expect(readAuthorizerEvent(token).presented).toBeUndefined();
});

it('headers that are not an object count as absent', () => {
  for (const headers of ['authorization: x', 42]) {
    const http = { version: '2.0', routeKey: 'GET /orders', headers } as unknown as APIGatewayRequestAuthorizerEventV2;
    expect(readAuthorizerEvent(http).presented).toBeUndefined();
  }
});
