// A platform team's CDK app, as the consumer test synthesizes it from the packed @keyroll/cdk
// (test/package/consumer.test.ts): an existing REST API and HTTP API, with KeyRoll embedded in
// the same stack and its authorizer attached to one route of each. Plain CommonJS, run by node.
const { App, Stack } = require('aws-cdk-lib');
const apigateway = require('aws-cdk-lib/aws-apigateway');
const apigwv2 = require('aws-cdk-lib/aws-apigatewayv2');
const { HttpUrlIntegration } = require('aws-cdk-lib/aws-apigatewayv2-integrations');
const { KeyRoll } = require('@keyroll/cdk');

const app = new App();
const stack = new Stack(app, 'Orders', { env: { account: '123456789012', region: 'eu-west-1' } });

// The APIs the team already runs.
const restApi = new apigateway.RestApi(stack, 'OrdersRestApi');
const orders = restApi.root.addResource('orders');
const httpApi = new apigwv2.HttpApi(stack, 'OrdersHttpApi');

// KeyRoll in the same stack, without its example API; a key needs orders:read for GET /orders.
const keyroll = new KeyRoll(stack, 'KeyRoll', {
  auth: { exampleApi: false, routeScopes: { 'GET /orders': ['orders:read'] } },
});

orders.addMethod('GET', new apigateway.HttpIntegration('https://orders.example.com/orders'), {
  authorizer: keyroll.auth.restApiAuthorizer(),
});
httpApi.addRoutes({
  path: '/orders',
  methods: [apigwv2.HttpMethod.GET],
  integration: new HttpUrlIntegration('OrdersBackend', 'https://orders.example.com/orders'),
  authorizer: keyroll.auth.httpApiAuthorizer(),
});

app.synth();
