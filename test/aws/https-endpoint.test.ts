/**
 * Local https webhooks (local/local-ca.ts, local/https-endpoint.ts): the endpoint's certificate
 * verifies against the run's CA and nothing else, for Node and for Python `requests` as moto_server
 * runs it (REQUESTS_CA_BUNDLE, set by local/moto.ts), so a webhook test exercises real TLS.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { createLocalCa, currentLocalCa } from '../../local/local-ca';
import { startHttpsEndpoint, type HttpsEndpoint } from '../../local/https-endpoint';

let endpoint: HttpsEndpoint;
beforeAll(async () => (endpoint = await startHttpsEndpoint({ handler: () => ({ status: 204 }) })));
afterAll(() => endpoint.close());

function nodePost(url: string, ca?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end('{}');
  });
}

/** Python `requests.post(url)` with `bundle` as REQUESTS_CA_BUNDLE: the status, or the exception's class name. */
function pythonPost(url: string, bundle: string): Promise<string> {
  return new Promise((resolve) => {
    const code = `import requests\ntry:\n    print(requests.post(${JSON.stringify(url)}, data=b"{}", timeout=10).status_code)\nexcept Exception as e:\n    print(type(e).__name__)`;
    const child = spawn('python3', ['-c', code], { env: { ...process.env, REQUESTS_CA_BUNDLE: bundle } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', () => resolve(out.trim()));
  });
}

it('is https on 127.0.0.1 and verifies with the run CA', async () => {
  expect(endpoint.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  expect(await nodePost(endpoint.url, endpoint.caCert)).toBe(204);
  expect(endpoint.received.at(-1)).toMatchObject({ method: 'POST', body: '{}' });
});

it('does not verify without the run CA, nor with another CA', async () => {
  await expect(nodePost(endpoint.url)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  const other = createLocalCa(tmpdir());
  try {
    expect(await pythonPost(endpoint.url, other.certFile)).toBe('SSLError');
  } finally {
    rmSync(other.dir, { recursive: true, force: true });
  }
});

it("moto's Python requests verifies it with the bundle moto_server is given", async () => {
  expect(await pythonPost(endpoint.url, currentLocalCa().certFile)).toBe('204');
});
