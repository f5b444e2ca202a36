/**
 * jest globalSetup: start one moto server for the whole run and export the AWS env vars.
 * globalSetup runs in the jest parent process before workers are forked, so the
 * process.env changes below are inherited by every worker (and by in-band runs).
 */
import { pointSdkAtEmulator, startMoto, type MotoHandle } from '../../local/moto';
import { assertSupportedNode } from '../../lib/node-version';

export const MOTO_HANDLE_KEY = '__KEYROLL_MOTO__';

export default async function globalSetup(): Promise<void> {
  assertSupportedNode();
  const t0 = Date.now();
  const handle = await startMoto();
  const totalMs = Date.now() - t0;
  (globalThis as Record<string, unknown>)[MOTO_HANDLE_KEY] = handle;

  pointSdkAtEmulator(handle.endpoint);

  const how = handle.external
    ? `using external endpoint ${handle.endpoint}`
    : `started ${handle.source} at ${handle.endpoint} in ${handle.startupMs} ms, ${totalMs} ms including locating moto (log: ${handle.logFile})`;
  process.stderr.write(`\n[moto] ${how}\n`);
}

export type { MotoHandle };
