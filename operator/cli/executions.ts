/**
 * Read-only views of the rotation state machine's executions: one by rotation id (the
 * execution name), and the running ones of a client. Inputs hold ids and reasons only.
 */
import { DescribeExecutionCommand, ExecutionDoesNotExist, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { executionArnFor } from '../../lambdas/core/execution-arn';

/** What the CLI shows of an execution. */
export interface ExecutionView {
  readonly rotationId: string;
  readonly executionArn: string;
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE, or NOT_FOUND (a local run, or another state machine). */
  readonly status: string;
  readonly startDate?: string;
  readonly stopDate?: string;
  readonly clientId?: string;
  readonly mode?: string;
  readonly requestedBy?: string;
  readonly error?: string;
  readonly cause?: string;
}

/** How many running executions `status` describes at most to find a client's (one ListExecutions page). */
export const MAX_SCANNED_EXECUTIONS = 100;

/** The execution of rotation `rotationId`. */
export async function describeRotation(sfn: SFNClient, stateMachineArn: string, rotationId: string): Promise<ExecutionView> {
  const executionArn = executionArnFor(stateMachineArn, rotationId);
  try {
    const out = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const input = parseInput(out.input);
    return {
      rotationId,
      executionArn,
      status: out.status ?? 'UNKNOWN',
      startDate: out.startDate?.toISOString(),
      stopDate: out.stopDate?.toISOString(),
      clientId: input?.clientId,
      mode: input?.mode,
      requestedBy: input?.requestedBy,
      error: out.error,
      cause: out.cause,
    };
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist || (error as Error).name === 'ExecutionDoesNotExist') return { rotationId, executionArn, status: 'NOT_FOUND' };
    throw error;
  }
}

/**
 * The running executions whose input names `clientId`: one ListExecutions page of running
 * executions (newest first), each described (its input holds the client id).
 */
export async function runningExecutionsOf(sfn: SFNClient, stateMachineArn: string, clientId: string): Promise<{ executions: ExecutionView[]; scanned: number; truncated: boolean }> {
  const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: MAX_SCANNED_EXECUTIONS }));
  const listed = page.executions ?? [];
  const views: ExecutionView[] = [];
  const queue = [...listed];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      if (!next.name) continue;
      const view = await describeRotation(sfn, stateMachineArn, next.name);
      if (view.clientId === clientId) views.push(view);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, listed.length) }, worker));
  views.sort((a, b) => (b.startDate ?? '').localeCompare(a.startDate ?? ''));
  return { executions: views, scanned: listed.length, truncated: Boolean(page.nextToken) };
}

function parseInput(input: string | undefined): { clientId?: string; mode?: string; requestedBy?: string } | undefined {
  if (!input) return undefined;
  try {
    const parsed = JSON.parse(input) as unknown;
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}
