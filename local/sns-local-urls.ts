/**
 * Where an SNS URL of a message the emulator sent is served locally. A SigningCertURL keeps AWS's
 * host (`https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem`), so that a
 * client's check of the certificate's host runs as it does on AWS; the moto patches
 * (local/moto-patches/sitecustomize.py, sns-subscription-confirmation) serve the same path under
 * `/sns_<region>/` of the emulator, which a test's certificate fetcher reads instead.
 */

const SNS_HOST = /^https:\/\/sns\.([a-z0-9-]+)\.amazonaws\.com\//;

/** The emulator's URL for `url` when it is an SNS URL (SigningCertURL, SubscribeURL), else `url` unchanged. */
export function localSnsUrl(url: string, endpoint: string = process.env.AWS_ENDPOINT_URL ?? ''): string {
  const match = SNS_HOST.exec(url);
  return match && endpoint ? `${endpoint.replace(/\/+$/, '')}/sns_${match[1]}/${url.slice(match[0].length)}` : url;
}
