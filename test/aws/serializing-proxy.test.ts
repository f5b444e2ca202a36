/**
 * The proxy that serialises requests to moto (local/serializing-proxy.ts), against a fake
 * upstream that records how many requests it holds at once: serialised requests never
 * overlap, long polls do not block the rest, and what goes through is passed on unchanged.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLongPoll, startSerializingProxy, type SerializingProxy } from '../../local/serializing-proxy';

interface Upstream {
  readonly url: string;
  readonly server: Server;
  maxConcurrent: number;
  /** Requests whose path starts with /hold wait until this resolves. */
  release(): void;
  readonly seen: { host?: string; body: string }[];
}

async function fakeUpstream(delayMs = 25): Promise<Upstream> {
  let concurrent = 0;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const upstream: Upstream = { url: '', server: undefined as unknown as Server, maxConcurrent: 0, release: () => release(), seen: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a throw here fails the test's request, which is what reports it
    req.on('end', async () => {
      concurrent++;
      upstream.maxConcurrent = Math.max(upstream.maxConcurrent, concurrent);
      upstream.seen.push({ host: req.headers.host, body: Buffer.concat(chunks).toString() });
      await (req.url?.startsWith('/hold') ? held : new Promise((r) => setTimeout(r, delayMs)));
      concurrent--;
      res.writeHead(201, { 'content-type': 'application/x-amz-json-1.0', 'x-echo': String(req.headers['x-amz-target'] ?? '') });
      res.end(`echo:${Buffer.concat(chunks).toString()}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(upstream, { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

function send(base: string, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let upstream: Upstream;
let proxy: SerializingProxy;

beforeEach(async () => {
  upstream = await fakeUpstream();
  proxy = await startSerializingProxy(upstream.url);
});

afterEach(async () => {
  upstream.release();
  await proxy.close();
  upstream.server.closeAllConnections();
  await new Promise((resolve) => upstream.server.close(resolve));
});

describe('the serialising proxy in front of moto', () => {
  it('passes concurrent requests to the upstream one at a time', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => send(proxy.endpoint, '/', `r${i}`, { 'x-amz-target': 'DynamoDB_20120810.UpdateItem' })));
    expect(answers.map((a) => a.body)).toEqual(Array.from({ length: 6 }, (_, i) => `echo:r${i}`));
    expect(upstream.maxConcurrent).toBe(1);
  });

  it('(the check above can fail: the same requests sent straight to the upstream overlap)', async () => {
    await Promise.all(Array.from({ length: 6 }, (_, i) => send(upstream.url, '/', `r${i}`)));
    expect(upstream.maxConcurrent).toBeGreaterThan(1);
  });

  it('lets an SQS long poll wait without holding up other requests', async () => {
    const poll = send(proxy.endpoint, '/hold', '{"WaitTimeSeconds":20}', { 'x-amz-target': 'AmazonSQS.ReceiveMessage' });
    const other = await send(proxy.endpoint, '/', 'put', { 'x-amz-target': 'DynamoDB_20120810.PutItem' });
    expect(other.body).toBe('echo:put');
    upstream.release();
    expect((await poll).body).toBe('echo:{"WaitTimeSeconds":20}');
  });

  it('passes status, headers, body and the Host header through unchanged', async () => {
    const answer = await send(proxy.endpoint, '/path?x=1', 'héllo', { 'x-amz-target': 'Secrets.Get' });
    expect(answer).toMatchObject({ status: 201, body: 'echo:héllo', headers: { 'x-echo': 'Secrets.Get' } });
    // moto builds the URLs it returns (SQS queue URLs) from Host: they must point at the proxy.
    expect(upstream.seen[0].host).toBe(new URL(proxy.endpoint).host);
  });

  it('answers 502 when the upstream is gone, and keeps serving afterwards', async () => {
    const dead = await startSerializingProxy('http://127.0.0.1:1');
    try {
      expect((await send(dead.endpoint, '/', 'a')).status).toBe(502);
      expect((await send(dead.endpoint, '/', 'b')).status).toBe(502);
    } finally {
      await dead.close();
    }
  });
});

describe('isLongPoll', () => {
  it.each([
    [{ 'x-amz-target': 'AmazonSQS.ReceiveMessage' }, '/', '', true],
    [{ 'x-amz-target': 'AmazonSQS.SendMessage' }, '/', '', false],
    [{ 'content-type': 'application/x-www-form-urlencoded' }, '/', 'Action=ReceiveMessage&WaitTimeSeconds=20', true],
    [{ 'content-type': 'application/x-www-form-urlencoded' }, '/', 'Action=ReceiveMessageBatch', false],
    [{}, '/?Action=ReceiveMessage&QueueUrl=x', '', true],
    [{ 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems' }, '/', 'Action=ReceiveMessage', false],
  ])('%j %s %s → %s', (headers, url, body, expected) => {
    expect(isLongPoll(headers, url, Buffer.from(body))).toBe(expected);
  });
});
