/**
 * Last line of defence for log lines and error text: anything shaped like a KeyRoll key
 * (`<prefix>_<49 base62 characters>`, see core/api-key.ts) is replaced. The SDK never puts
 * key material in a message on purpose; this catches the accidental cases (an underlying
 * error that echoes its input).
 */

/** What a redacted key is replaced with. */
export const REDACTED = '[REDACTED]';

const KEY_SHAPE = /[a-z][a-z0-9]{1,15}_[0-9A-Za-z]{49}/g;

/** `text` with every KeyRoll-shaped key and every string in `secrets` replaced by {@link REDACTED}. */
export function redactKeys(text: string, secrets: Iterable<string | undefined> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join(REDACTED);
  }
  return out.replace(KEY_SHAPE, REDACTED);
}
