/**
 * Finds API keys pasted where text belongs (a client id, a rotation id, a reason): such text
 * is stored in DynamoDB, logged and shown, and a plaintext key may live only in Secrets
 * Manager and with the client (invariant 5). Only a well-formed key (valid checksum) counts,
 * so look-alike text is not refused.
 */
import { KEY_CHECKSUM_CHARS, KEY_ENTROPY_CHARS, parseApiKey } from './api-key';

const BODY_CHARS = KEY_ENTROPY_CHARS + KEY_CHECKSUM_CHARS;
const BODY = new RegExp(`^[0-9A-Za-z]{${BODY_CHARS}}`);
const PREFIX_CHAR = /[a-z0-9]/;
/** Prefixes are 2-16 characters. */
const MAX_PREFIX = 16;

/** Whether `text` contains a well-formed API key of any prefix, anywhere in it. */
export function containsApiKey(text: string): boolean {
  for (let underscore = text.indexOf('_'); underscore !== -1; underscore = text.indexOf('_', underscore + 1)) {
    const body = BODY.exec(text.slice(underscore + 1, underscore + 1 + BODY_CHARS))?.[0];
    if (!body) continue;
    // The prefix is unknown: try each length that ends at the underscore (letters run together in prose).
    let run = 0;
    while (run < MAX_PREFIX && underscore - run - 1 >= 0 && PREFIX_CHAR.test(text[underscore - run - 1])) run++;
    for (let length = 2; length <= run; length++) {
      try {
        parseApiKey(`${text.slice(underscore - length, underscore)}_${body}`);
        return true;
      } catch {
        // not a key with this prefix length
      }
    }
  }
  return false;
}
