/**
 * A scripted DynamoDB for tests of the lean client: a loopback HTTP server that records each
 * request and answers with the next scripted reply (the last one repeats), or hangs, or drops
 * the connection. Close it with `close()` (which also ends kept-alive connections).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the server received it. */
export interface Captured {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** An answer (after `delayMs`, if given: a slow DynamoDB), or `hang` (never answer) or `drop` (destroy the connection). */
export type Reply = { status: number; body?: string; headers?: Record<string, string>; delayMs?: number } | 'hang' | 'drop';

export interface ScriptedDynamoDb {
  readonly endpoint: string;
  readonly captured: Captured[];
  /** TCP connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** DynamoDB's JSON error answer. */
export const awsError = (status: number, code: string, message = `${code} happened`): Reply => ({
  status,
  body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${code}`, message }),
});

/** A 200 with this JSON body. */
export const ok = (body: unknown = {}): Reply => ({ status: 200, body: JSON.stringify(body) });

/** Starts a scripted DynamoDB on a free loopback port. */
export async function scriptedDynamoDb(replies: Reply[]): Promise<ScriptedDynamoDb> {
  const sockets = new Set<Socket>();
  const state: ScriptedDynamoDb = {
    endpoint: '',
    captured: [],
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  let next = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      state.captured.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = replies[Math.min(next++, replies.length - 1)];
      if (reply === 'hang') return;
      if (reply === 'drop') {
        req.socket.destroy();
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `req-${next}`, ...reply.headers });
        res.end(reply.body ?? '');
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs).unref();
      else answer();
    });
  });
  server.on('connection', (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}
