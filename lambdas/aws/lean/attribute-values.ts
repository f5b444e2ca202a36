/**
 * DynamoDB's JSON wire format (AttributeValue) to plain values and back, for the lean client.
 *
 * Reading converts every attribute type the way the SDK's document client does with the
 * options the project uses (`@aws-sdk/util-dynamodb` `unmarshall`, `wrapNumbers` off): N to
 * number (BigInt for an integer beyond 2^53, refused if not an integer), SS/NS/BS to Set, B/BS to Uint8Array,
 * NULL to null. `test/aws/lean-dynamodb.test.ts` checks it against that function. Writing
 * needs only strings: every key, and every value the authorizer writes, is one.
 *
 * Written here rather than loaded from `@aws-sdk/util-dynamodb` so the authorizer's bundle
 * needs no package from the runtime's SDK at all (that package alone costs ≈ 1–3 ms to load).
 */
import { KeyRollError } from '../../core/errors';

/** One attribute as DynamoDB's JSON protocol carries it (binary as base64). */
export type AttributeValue =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly B: string }
  | { readonly BOOL: boolean }
  | { readonly NULL: true }
  | { readonly SS: readonly string[] }
  | { readonly NS: readonly string[] }
  | { readonly BS: readonly string[] }
  | { readonly L: readonly AttributeValue[] }
  | { readonly M: Readonly<Record<string, AttributeValue>> };

/** An item as DynamoDB's JSON protocol carries it. */
export type AttributeMap = Readonly<Record<string, AttributeValue>>;

/** A plain value read from an item. */
export type NativeValue = string | number | bigint | boolean | null | Uint8Array | Set<string> | Set<number | bigint> | Set<Uint8Array> | NativeValue[] | { [name: string]: NativeValue };

/** An attribute value this converter cannot read (never produced by DynamoDB). */
export class UnreadableAttributeError extends KeyRollError {
  override readonly name = 'UnreadableAttribute';
}

function toNumber(text: string): number | bigint {
  // The SDK's rule (wrapNumbers off): a number beyond the safe integer range comes back as a
  // BigInt when it is an integer and is refused otherwise; anything else is a JavaScript number.
  const value = Number(text);
  if ((value > Number.MAX_SAFE_INTEGER || value < Number.MIN_SAFE_INTEGER) && Number.isFinite(value)) {
    try {
      return BigInt(text);
    } catch {
      // Item content stays out of the message.
      throw new UnreadableAttributeError('A number attribute is outside the range a JavaScript number holds exactly.');
    }
  }
  return value;
}

function toBytes(base64: string): Uint8Array {
  const buffer = Buffer.from(base64, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** The plain value of one attribute. */
export function fromAttributeValue(value: AttributeValue): NativeValue {
  if ('S' in value) return value.S;
  if ('N' in value) return toNumber(value.N);
  if ('BOOL' in value) return value.BOOL;
  if ('NULL' in value) return null;
  if ('L' in value) return value.L.map(fromAttributeValue);
  if ('M' in value) return fromItem(value.M);
  if ('SS' in value) return new Set(value.SS);
  if ('NS' in value) return new Set(value.NS.map(toNumber));
  if ('B' in value) return toBytes(value.B);
  if ('BS' in value) return new Set(value.BS.map(toBytes));
  throw new UnreadableAttributeError(`Unknown attribute type ${Object.keys(value).join(', ') || '(none)'}.`);
}

/** The plain object of an item. */
export function fromItem(item: AttributeMap): Record<string, NativeValue> {
  const out: Record<string, NativeValue> = {};
  for (const name of Object.keys(item)) out[name] = fromAttributeValue(item[name]);
  return out;
}

/** Strings as attribute values: all the lean client writes (item keys and expression values). */
export function stringAttributes<K extends string>(values: Readonly<Record<K, string>>): Record<K, { S: string }> {
  const out = {} as Record<K, { S: string }>;
  for (const name of Object.keys(values) as K[]) out[name] = { S: values[name] };
  return out;
}
