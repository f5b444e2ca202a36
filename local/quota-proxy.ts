/**
 * An HTTP proxy in front of the AWS emulator that enforces request-rate quotas the way AWS
 * does (a `ThrottlingException` beyond the rate) and counts every call by service and
 * operation. The fleet rehearsal puts Secrets Manager's write quota here (PutSecretValue,
 * UpdateSecretVersionStage and UpdateSecret share 50 requests/s per account and Region);
 * the cost bench reads the counts.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A rate limit over a set of operations of one service, shared by all of them. */
export interface QuotaRule {
  /** Signing name of the service, e.g. `secretsmanager`. */
  readonly service: string;
  readonly operations: readonly string[];
  readonly perSecond: number;
}

/** Secrets Manager's shared write quota (not adjustable). */
export const SECRETS_MANAGER_WRITE_QUOTA: QuotaRule = {
  service: 'secretsmanager',
  operations: ['PutSecretValue', 'UpdateSecretVersionStage', 'UpdateSecret'],
  perSecond: 50,
};

/**
 * A sliding one-second window: a call is allowed only if fewer than `perSecond` calls were
 * allowed in the last 1000 ms. Stricter than a token bucket (no burst above the rate in any
 * window), so a throughput measured behind it cannot exceed the quota.
 */
export class SlidingWindowLimiter {
  private readonly times: number[] = [];
  private head = 0;

  constructor(
    private readonly perSecond: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    if (!(perSecond > 0) || !Number.isInteger(perSecond)) throw new RangeError(`perSecond must be a positive integer; got ${perSecond}.`);
  }

  /** The limiter's clock. */
  now(): number {
    return this.nowMs();
  }

  /** Records a call at `now` if the window has room; false means throttle. */
  tryTake(now: number = this.nowMs()): boolean {
    while (this.head < this.times.length && now - this.times[this.head] >= 1000) this.head++;
    if (this.head > 4096) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
    if (this.times.length - this.head >= this.perSecond) return false;
    this.times.push(now);
    return true;
  }
}

/** `service:Operation`, e.g. `secretsmanager:PutSecretValue`, `sns:Publish`. */
export type OperationKey = string;

/** Which service and operation a signed AWS request is, from its headers and body. */
export function operationOf(headers: http.IncomingHttpHeaders, body: string): { service: string; operation: string } {
  const auth = headers.authorization ?? '';
  // SigV4 credential scope: Credential=AKID/date/region/<service>/aws4_request
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(auth)?.[1] ?? 'unknown';
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) return { service, operation: target.slice(target.lastIndexOf('.') + 1) };
  // Query protocol (SNS): Action=Publish&...
  const action = /(?:^|&)Action=([A-Za-z]+)/.exec(body)?.[1];
  return { service, operation: action ?? 'unknown' };
}

/** What went through the proxy. */
export interface ProxyStats {
  /** Calls forwarded to the emulator, by operation. */
  readonly forwarded: ReadonlyMap<OperationKey, number>;
  /** Calls answered with ThrottlingException, by operation. */
  readonly throttled: ReadonlyMap<OperationKey, number>;
  /** Times (ms, performance.now) of every forwarded call under a quota rule. */
  readonly quotaCallTimes: readonly number[];
  /** Items written by forwarded TransactWriteItems calls (DynamoDB bills 2 write units per item). */
  readonly transactWriteItems: number;
}

/** The running proxy. */
export class QuotaProxy {
  private forwarded = new Map<OperationKey, number>();
  private throttled = new Map<OperationKey, number>();
  private quotaCallTimes: number[] = [];
  private transactWriteItems = 0;
  private buckets: { rule: QuotaRule; bucket: SlidingWindowLimiter }[];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

  private constructor(
    private readonly server: http.Server,
    private readonly target: URL,
    rules: readonly QuotaRule[],
  ) {
    this.buckets = rules.map((rule) => ({ rule, bucket: new SlidingWindowLimiter(rule.perSecond) }));
  }

  /** Starts a proxy on a free loopback port, forwarding to `targetEndpoint` (the emulator). */
  static async start(targetEndpoint: string, rules: readonly QuotaRule[]): Promise<QuotaProxy> {
    const server = http.createServer();
    const proxy = new QuotaProxy(server, new URL(targetEndpoint), rules);
    server.on('request', (req, res) => proxy.handle(req, res));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The endpoint to point the SDK at. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Replaces the quotas (fresh windows). */
  setQuotas(rules: readonly QuotaRule[]): void {
    this.buckets = rules.map((rule) => ({ rule, bucket: new SlidingWindowLimiter(rule.perSecond) }));
  }

  /** A copy of the counts so far. */
  stats(): ProxyStats {
    return { forwarded: new Map(this.forwarded), throttled: new Map(this.throttled), quotaCallTimes: [...this.quotaCallTimes], transactWriteItems: this.transactWriteItems };
  }

  /** Forgets the counts (the quotas keep their state). */
  resetStats(): void {
    this.forwarded = new Map();
    this.throttled = new Map();
    this.quotaCallTimes = [];
    this.transactWriteItems = 0;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { service, operation } = operationOf(req.headers, body.toString('utf8'));
      const key = `${service}:${operation}`;
      const limited = this.buckets.find(({ rule }) => rule.service === service && rule.operations.includes(operation));
      // One clock reading for the decision and the record, so the recorded peak is the limiter's own.
      const now = limited ? limited.bucket.now() : 0;
      if (limited && !limited.bucket.tryTake(now)) {
        this.throttled.set(key, (this.throttled.get(key) ?? 0) + 1);
        const payload = JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' });
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
        return;
      }
      this.forwarded.set(key, (this.forwarded.get(key) ?? 0) + 1);
      if (limited) this.quotaCallTimes.push(now);
      if (key === 'dynamodb:TransactWriteItems') this.transactWriteItems += transactItemCount(body);
      const upstream = http.request({ host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', (error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`quota proxy: upstream error ${error.message}`);
      });
      upstream.end(body);
    });
  }
}

/** The highest number of calls in any sliding window of `windowMs` (to check the quota held). */
export function peakRate(times: readonly number[], windowMs = 1000): number {
  let peak = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

function transactItemCount(body: Buffer): number {
  try {
    const items = (JSON.parse(body.toString('utf8')) as { TransactItems?: unknown[] }).TransactItems;
    return Array.isArray(items) ? items.length : 0;
  } catch {
    return 0;
  }
}
