/**
 * The one builder of guarded UpdateItem expressions: what must still hold, what to set and
 * what to remove, with every attribute name behind a `#name` placeholder (so reserved words
 * such as `state` and `lock` need no care) and every value behind a numbered `:vN`.
 * Loads no SDK.
 */

/** A change of one item, applied only if each `expect` attribute still has its value. */
export interface GuardedChange {
  /** Conditions written out in full (no placeholders), checked before `expect`, e.g. `attribute_exists(pk)`. */
  readonly require?: readonly string[];
  /** Attribute path (`a` or `a.b`) → the value it must have; `null`: the attribute must be absent. */
  readonly expect?: Readonly<Record<string, unknown>>;
  /** Attribute path → new value; an `undefined` value is left out, as an absent optional field. */
  readonly set?: Readonly<Record<string, unknown>>;
  readonly remove?: readonly string[];
}

/** The expression parameters of an UpdateItem (or a transaction's Update) for a {@link GuardedChange}. */
export interface GuardedUpdate {
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  /** Absent when no value is needed: DynamoDB refuses an empty map. */
  readonly ExpressionAttributeValues?: Record<string, unknown>;
}

/** Builds the update and condition expressions of `change`, with their placeholders. */
export function guardedUpdate(change: GuardedChange): GuardedUpdate {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const path = (attribute: string) =>
    attribute
      .split('.')
      .map((part) => {
        names[`#${part}`] = part;
        return `#${part}`;
      })
      .join('.');
  const value = (v: unknown) => {
    const placeholder = `:v${Object.keys(values).length}`;
    values[placeholder] = v;
    return placeholder;
  };
  const conditions = [...(change.require ?? [])];
  for (const [attribute, expected] of Object.entries(change.expect ?? {})) {
    conditions.push(expected === null ? `attribute_not_exists(${path(attribute)})` : `${path(attribute)} = ${value(expected)}`);
  }
  const sets = Object.entries(change.set ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([attribute, v]) => `${path(attribute)} = ${value(v)}`);
  const removes = (change.remove ?? []).map(path);
  const expression = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' ');
  return {
    UpdateExpression: expression,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}
