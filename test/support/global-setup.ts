/**
 * jest globalSetup: start one moto server for the whole run and export the AWS env vars.
 * globalSetup runs in the jest parent process before workers are forked, so the
 * process.env changes below are inherited by every worker (and by in-band runs).
 */
import { startMoto, type MotoHandle } from './moto';

export const MOTO_HANDLE_KEY = '__KEYROLL_MOTO__';

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  const handle = await startMoto();
  const totalMs = Date.now() - t0;
  (globalThis as Record<string, unknown>)[MOTO_HANDLE_KEY] = handle;

  const env = process.env;
  // Make sure nothing can route an SDK call to real AWS or to another endpoint:
  // per-service endpoint vars beat AWS_ENDPOINT_URL, AWS_PROFILE disables env credentials,
  // and the shared config/credentials files may carry endpoint_url/region/keys.
  for (const key of Object.keys(env)) {
    if (key.startsWith('AWS_ENDPOINT_URL_')) delete env[key];
  }
  delete env.AWS_PROFILE;
  delete env.AWS_DEFAULT_PROFILE;
  delete env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
  delete env.AWS_SESSION_TOKEN;
  delete env.AWS_SECURITY_TOKEN;
  env.AWS_CONFIG_FILE = '/nonexistent/keyroll-test/aws-config';
  env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/keyroll-test/aws-credentials';

  env.AWS_ENDPOINT_URL = handle.endpoint;
  env.AWS_REGION = 'us-east-1';
  env.AWS_DEFAULT_REGION = 'us-east-1';
  env.AWS_ACCESS_KEY_ID = 'testing';
  env.AWS_SECRET_ACCESS_KEY = 'testing';
  env.AWS_EC2_METADATA_DISABLED = 'true';

  const how = handle.external
    ? `using external endpoint ${handle.endpoint}`
    : `started ${handle.source} at ${handle.endpoint} in ${handle.startupMs} ms, ${totalMs} ms including locating moto (log: ${handle.logFile})`;
  process.stderr.write(`\n[moto] ${how}\n`);
}

export type { MotoHandle };
