/** Rules of the variables several functions share (see configuration.ts for how they are read). */
import { KEY_PREFIX_PATTERN } from './api-key';
import { optional, required, text } from './configuration';

/**
 * The KeyRoll table. DynamoDB table names are 3-255 characters of [a-zA-Z0-9_.-]
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html).
 */
export const TABLE_NAME = required('a DynamoDB table name (3-255 characters of A-Z a-z 0-9 _ . -)', text(/^[A-Za-z0-9_.-]{3,255}$/));

/** The prefix of every issued key, as the construct checks it (core/api-key.ts). */
export const KEY_PREFIX = required('a key prefix (2-16 lowercase letters or digits, starting with a letter)', text(KEY_PREFIX_PATTERN));

/**
 * A state machine's ARN, unqualified: `arn:<partition>:states:<region>:<account>:stateMachine:<name>`
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html), the
 * name 1-80 characters without whitespace, brackets, wildcards, `" # % \ ^ | ~ ` $ & , ; : /` or
 * control characters, as AWS names them
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html):
 * KeyRollSchedules accepts any state machine, not only KeyRollRotation's stricter names.
 */
// eslint-disable-next-line no-control-regex -- AWS forbids control characters in a name: the class names them to exclude them.
export const STATE_MACHINE_ARN_PATTERN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;
const STATE_MACHINE_ARN_MUST_BE = 'a state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>)';

/** STATE_MACHINE_ARN where the function cannot work without it (the scheduled start). */
export const REQUIRED_STATE_MACHINE_ARN = required(STATE_MACHINE_ARN_MUST_BE, text(STATE_MACHINE_ARN_PATTERN));

/** STATE_MACHINE_ARN where it is optional (beginRotation: absent, an emergency cannot preempt). */
export const OPTIONAL_STATE_MACHINE_ARN = optional(STATE_MACHINE_ARN_MUST_BE, text(STATE_MACHINE_ARN_PATTERN));

/** The Powertools logger's service name; the stack sets `keyroll`, the default when unset. */
export const POWERTOOLS_SERVICE_NAME = optional('a service name (1-128 printable characters)', text(/^[\x21-\x7e][\x20-\x7e]{0,127}$/), 'keyroll');
