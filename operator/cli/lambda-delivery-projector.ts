/**
 * The CLI's {@link DeliveryProjector}: a synchronous invoke of KeyRoll's delivery function
 * (stack output `DeliveryFunctionName`) with `{clientId}`. Only that function's role may
 * write a client's secret policy, KMS grants and subscriptions, so the operator asks it
 * instead of doing it; the operator needs lambda:InvokeFunction on that one function.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DeliveryProjectionFailedError } from '../../lambdas/core/errors';
import type { DeliveryProjectionResult, DeliveryProjector } from '../../lambdas/aws/delivery/delivery-projector';
import { redactKeys } from './output';

/** Longest part of the function's error message the CLI shows. */
const MAX_ERROR_TEXT = 300;
const ERROR_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** Invokes the delivery function for each projection. */
export class LambdaDeliveryProjector implements DeliveryProjector {
  constructor(
    private readonly lambda: LambdaClient,
    readonly functionName: string,
  ) {}

  /** @throws DeliveryProjectionFailed when the function ran and failed (its error name and a bounded, redacted message). */
  async project(clientId: string): Promise<DeliveryProjectionResult> {
    const out = await this.lambda.send(new InvokeCommand({ FunctionName: this.functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify({ clientId })) }));
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    const body = parse(text);
    if (out.FunctionError) {
      const { errorType, errorMessage } = (body ?? {}) as { errorType?: unknown; errorMessage?: unknown };
      const name = typeof errorType === 'string' && ERROR_NAME.test(errorType) ? errorType : out.FunctionError;
      throw new DeliveryProjectionFailedError(clientId, name, typeof errorMessage === 'string' ? safeText(errorMessage) : 'no error message');
    }
    if (!isProjectionResult(body, clientId)) throw new DeliveryProjectionFailedError(clientId, 'UnexpectedResponse', 'the delivery function answered with something that is not a projection result');
    return body;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** One line, bounded, with anything key-shaped redacted (the message is printed). */
function safeText(text: string): string {
  const line = redactKeys(text).replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return line.length > MAX_ERROR_TEXT ? `${line.slice(0, MAX_ERROR_TEXT)}…` : line;
}

function isProjectionResult(value: unknown, clientId: string): value is DeliveryProjectionResult {
  if (typeof value !== 'object' || value === null) return false;
  const result = value as Partial<DeliveryProjectionResult>;
  const counts = (o: unknown, keys: string[]) => typeof o === 'object' && o !== null && keys.every((k) => typeof (o as Record<string, unknown>)[k] === 'number');
  return (
    result.clientId === clientId &&
    (result.secretPolicy === 'put' || result.secretPolicy === 'unchanged') &&
    counts(result.grants, ['created', 'revoked', 'kept']) &&
    counts(result.subscriptions, ['created', 'removed', 'kept', 'pendingConfirmation'])
  );
}
