/**
 * Audit entries as append-only DynamoDB items: each is a Put that only creates
 * (`attribute_not_exists(pk)`), so nothing ever rewrites an entry. A step that is retried
 * writes the same entry again; this module recognises such a replay from the item DynamoDB
 * returns with a failed condition, so the repository can treat it as already written.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { AuditEvent } from '../core/model';
import { auditItemKey } from './table-keys';

/** One action of a TransactWriteItems request, as the document client takes it. */
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

// The item key attributes, and `at`: a retried step computes its time anew, so a replay differs in it.
const NOT_CONTENT = new Set(['pk', 'sk', 'at']);

/**
 * The Put that records `event`: only if no entry has its key. A failed condition returns
 * the stored entry (ALL_OLD), from which {@link isAuditReplay} tells a replay from a conflict.
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Put.html
 */
export function auditPut(tableName: string, event: AuditEvent): TransactItem {
  const discriminator = event.rotationId ?? event.at;
  const attributes = Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined));
  return {
    Put: {
      TableName: tableName,
      Item: { ...auditItemKey(event.clientId, discriminator, [event.action, event.keyId, event.sequence].filter(Boolean).join('#')), ...attributes },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** True for an action built by {@link auditPut}. */
export function isAuditPut(item: TransactItem): boolean {
  const sk: unknown = item.Put?.Item?.sk;
  return typeof sk === 'string' && sk.startsWith('AUDIT#') && item.Put?.ConditionExpression === 'attribute_not_exists(pk)';
}

/**
 * True when `stored` (the item a failed audit Put returned, in DynamoDB's attribute-value
 * form: the document client does not unmarshall errors) holds the same entry as the Put:
 * the same attributes with the same values, `at` aside. Audit attributes are all strings.
 * Without a stored item (nothing returned) it is not a replay.
 */
export function isAuditReplay(item: TransactItem, stored: Record<string, AttributeValue> | undefined): boolean {
  const written = item.Put?.Item;
  if (!written || !stored) return false;
  const content = (names: string[]) => names.filter((name) => !NOT_CONTENT.has(name)).sort();
  const names = content(Object.keys(written));
  if (JSON.stringify(names) !== JSON.stringify(content(Object.keys(stored)))) return false;
  return names.every((name) => {
    const value: unknown = written[name];
    return typeof value === 'string' && stored[name]?.S === value;
  });
}
