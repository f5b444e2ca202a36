/**
 * The example protected API's backend (GET /whoami): answers with who the authorizer
 * says the caller is. Shows what a backend receives: ids and scopes, never the key.
 */
import type { APIGatewayProxyEventV2WithLambdaAuthorizer, APIGatewayProxyResultV2 } from 'aws-lambda';
import type { AuthorizerContext } from '../aws/auth/authorizer-events';

export const handler = async (event: APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext>): Promise<APIGatewayProxyResultV2> => {
  const { clientId, keyId, keyRole, scopes } = event.requestContext.authorizer.lambda;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ clientId, keyId, keyRole, scopes: scopes ? scopes.split(' ') : [] }),
  };
};
