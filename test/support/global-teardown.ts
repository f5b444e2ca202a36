/** jest globalTeardown: stop the moto server started by global-setup.ts. */
import type { MotoHandle } from '../../local/moto';
import { MOTO_HANDLE_KEY } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  const handle = g[MOTO_HANDLE_KEY] as MotoHandle | undefined;
  if (!handle) return;
  delete g[MOTO_HANDLE_KEY];
  await handle.stop();
}
