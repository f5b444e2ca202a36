"""KeyRoll's patches to moto, loaded at interpreter start (the local moto launcher, local/moto.ts,
puts this directory on PYTHONPATH, so Python imports it as sitecustomize).

Written for moto 5.2.1 exactly (MOTO_VERSION; local/moto.ts pins `moto[server]==5.2.1`). Before
anything is patched, the moto version is checked, then for each patch the moto functions it replaces
or calls (present, with 5.2.1's parameter names), the constants and classes it uses, and the source
lines it depends on (e.g. that Query still calls `self.all_items()`). Instance data (a table's items,
a secret's versions) is left to the exact pin and the tests. On any difference the interpreter writes
`KeyRoll moto patches: <patch>: <what differs>` to stderr and exits with status 78, so moto_server
does not start (and the launcher reports that line) instead of running unpatched or half patched.

Atomicity is not made here: local/serializing-proxy.ts lets one request at a time through to
moto, which is what makes each request atomic, as it is on AWS.

Speed (answers stay moto's; test/aws/moto-patches.test.ts; figures in bench/README.md, "moto's
speed patches"):

- transaction-undo-log: TransactWriteItems copies only the items it names, and puts them back if it
  fails. moto deep-copies every table the transaction touches, once per operation, before it starts
  (O(table size) per transaction).
- query-prefilter: Query does not sort the whole table first. moto's Query starts from
  `all_items()`, which sorts every item of the table by its key, then keeps the matches and sorts
  those again by the index's key. Inside Query the first sort is skipped and items whose partition
  key cannot match are dropped by a plain comparison of type and string value before moto's own
  checks. The result, its order and its paging are moto's.
- module-list-once: the server looks each request's service up in the list of moto's modules, which
  it rebuilds from a directory listing (a stat per module) on every request; the list is read once.

KEYROLL_MOTO_SKIP=<names> leaves speed patches out (and only those), to measure them:
`npx tsx bench/moto-patches.ts`.

Secrets Manager as the API reference documents it (moto 5.2.1 is more lenient, so a test could pass
on behaviour AWS does not have; test/aws/moto-secrets-strict.test.ts cites the reference for each):

- secrets-label-cas: UpdateSecretVersionStage is a compare-and-set on the label. A label attached to
  any version moves only when RemoveFromVersionId names that version (moto attached it a second
  time when RemoveFromVersionId was left out, except for AWSCURRENT); a move to the version that
  already carries it changes nothing (moto dropped AWSPREVIOUS); a request that fails changes
  nothing (moto removed the label, then failed on an unknown MoveToVersionId). Where the reference
  is silent the strict reading is taken: a call naming neither version, and removing AWSCURRENT
  without moving it, are refused.
- secrets-deprecated-versions: versions without labels are deprecated: DescribeSecret's
  VersionIdsToStages (and ListSecrets' SecretVersionsToStages) leave them out, and
  ListSecretVersionIds lists them only with IncludeDeprecated (moto listed them with [] everywhere).
  GetSecretValue by VersionId still reads them, as AWS does for versions less than 24 hours old.
- secrets-request-token: PutSecretValue / CreateSecret / UpdateSecret with a ClientRequestToken that
  names a version holding a value: same data succeeds and changes nothing, different data is
  ResourceExistsException (moto rewrote the version whenever it carried AWSPENDING). moto's own
  RotateSecret placeholder (a version without a value) is still filled.
- secrets-current-label: AWSCURRENT is wherever the label is. moto kept a separate "default version"
  that UpdateSecretVersionStage never moved, so GetSecretValue without VersionId/VersionStage read a
  stale version and a later PutSecretValue made a second AWSCURRENT. Moving AWSCURRENT by
  PutSecretValue keeps the old version's other labels (moto replaced them all with AWSPREVIOUS) and
  moves every label the request names.

DynamoDB transaction limits as AWS enforces them (test/aws/moto-dynamodb-limits.test.ts):

- transact-get-100-actions: TransactGetItems takes up to 100 actions, as TransactWriteItems does;
  moto refuses more than 25 (the limit before September 2022).
- transaction-4mb: the aggregate size of the items in a TransactWriteItems or TransactGetItems
  request cannot exceed 4 MB; moto has no such check.

SNS subscriptions as documented (moto 5.2.1 confirms every subscription at once and posts to http(s)
endpoints synchronously; test/aws/moto-sns-confirmation.test.ts cites the documentation for each):

- sns-subscription-confirmation: a subscription starts PendingConfirmation, and receives nothing but
  its confirmation request until ConfirmSubscription (the API, or a GET of the SubscribeURL) presents
  its token, when it is
  - http/https: SNS POSTs a signed SubscriptionConfirmation (Token, SubscribeURL) to the endpoint
    (https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html);
  - email/email-json: the recipient confirms from the message (no mail leaves moto: the confirmation
    is kept in an outbox, GET /sns_<region>/keyroll/email-outbox)
    (https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html);
  - sqs, when the queue is in another account than the topic and the subscriber is not the queue
    owner: "When the queue owner creates a subscription, the subscription doesn't require
    confirmation"; otherwise the queue receives the SubscriptionConfirmation
    (https://docs.aws.amazon.com/sns/latest/dg/sns-send-message-to-sqs-cross-account.html).
  Subscribe answers "pending confirmation" for a pending subscription unless ReturnSubscriptionArn
  is true, and ListSubscriptions(ByTopic) show its ARN as PendingConfirmation
  (https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html). A wrong token is InvalidParameter.
  The SubscribeURL points at the endpoint the Subscribe request was sent to, under /sns_<region>/
  (which moto_server routes to SNS without a signature). The SigningCertURL keeps AWS's host (as in
  moto's Notifications), so a client's host check runs unchanged; moto serves the PEM under
  /sns_<region>/ too (local/sns-local-urls.ts maps one to the other).
  Confirmations are signed as the documentation lists the fields
  (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html) with moto's own
  per-subscription key, whose certificate moto already serves.
- sns-http-delivery: http/https messages are POSTed after the request that caused them has answered
  (in a thread, as SNS delivers asynchronously), with the x-amz-sns-* headers AWS sends
  (https://docs.aws.amazon.com/sns/latest/dg/http-header.html) and MessageAttributes in the body.
  moto posted inside the Publish request, so a webhook that called back into moto through the
  serialising proxy waited for itself forever.
- sns-notification-signature: a Notification's signature covers Subject when the message has one, as
  the documented string to sign says (sns-verify-signature-of-message.html); moto left it out, so a
  client verifying by the documentation rejected every message with a Subject.
- sns-sqs-queue-account: an SQS subscription delivers to the queue its ARN names, in that account
  (moto sent to a queue of that name in the topic's account).

Nothing else changes: every other request runs moto's own code.
"""
import copy as _copy
import importlib as _importlib
import inspect as _inspect
import json as _json
import os as _os
import sys as _sys

MOTO_VERSION = "5.2.1"
SHAPE_EXIT_STATUS = 78  # EX_CONFIG: the launcher (local/moto.ts) reports the stderr line instead of a crash
MARKER = "KeyRoll moto patches:"

_CURRENT, _PREVIOUS = "AWSCURRENT", "AWSPREVIOUS"


class ShapeError(Exception):
    """moto is not the shape a patch was written against."""

    def __init__(self, patch, problem):
        super().__init__(f"{patch}: {problem}")


def _target(patch, dotted):
    """`module:Attr.path` from moto, or ShapeError naming `patch`."""
    module_name, _, attr_path = dotted.partition(":")
    try:
        found = _importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any import failure is a shape change
        raise ShapeError(patch, f"cannot import {module_name} ({type(error).__name__}: {error})") from None
    for part in filter(None, attr_path.split(".")):
        if not hasattr(found, part):
            raise ShapeError(patch, f"{dotted} is missing")
        found = getattr(found, part)
    return found


def _expect(patch, dotted, *params, value=None, source_has=None):
    """Returns moto's `dotted` after checking its parameter names, value or source text against moto 5.2.1."""
    found = _target(patch, dotted)
    if params:
        try:
            actual = tuple(_inspect.signature(found).parameters)
        except (TypeError, ValueError):
            raise ShapeError(patch, f"{dotted} is no longer a function") from None
        if actual != params:
            raise ShapeError(patch, f"{dotted} takes ({', '.join(actual)}), the patch expects ({', '.join(params)})")
    if value is not None and found != value:
        raise ShapeError(patch, f"{dotted} is {found!r}, the patch expects {value!r}")
    if source_has is not None and source_has not in _inspect.getsource(found):
        raise ShapeError(patch, f"{dotted} no longer contains `{source_has}`")
    return found


def _check_version():
    moto = _target("version", "moto")
    version = getattr(moto, "__version__", "unknown")
    if version != MOTO_VERSION:
        raise ShapeError(
            "version",
            f"moto {version} is installed ({_os.path.dirname(getattr(moto, '__file__', '') or '?')}), the patches are written for "
            f"moto {MOTO_VERSION} exactly: install it with `python3 -m pip install 'moto[server]=={MOTO_VERSION}'`",
        )


# --- speed ---------------------------------------------------------------------------------------


def _transaction_undo_log():
    patch = "transaction-undo-log"
    models = _target(patch, "moto.dynamodb.models")
    table_class = _expect(patch, "moto.dynamodb.models:Table")
    _expect(patch, "moto.dynamodb.models:copy.deepcopy")
    original = _expect(patch, "moto.dynamodb.models:DynamoDBBackend.transact_write_items", "self", "transact_items", source_has="copy.deepcopy(")
    _expect(patch, "moto.dynamodb.models:DynamoDBBackend.get_table", "self", "table_name")
    _expect(patch, "moto.dynamodb.models:DynamoDBBackend.get_keys_value", "self", "table", "keys")
    _expect(patch, "moto.dynamodb.models:Table.get_item", "self", "hash_key", "range_key", "projection_expression")
    _expect(patch, "moto.dynamodb.models:Table.delete_item", "self", "hash_key", "range_key")

    class CopyWithoutTableSnapshots:
        """The `copy` module as moto's DynamoDB models see it: a Table is not copied (the undo log restores instead)."""

        def deepcopy(self, obj, memo=None):
            return obj if isinstance(obj, table_class) else _copy.deepcopy(obj, memo)

        def __getattr__(self, name):
            return getattr(_copy, name)

    def item_key(backend, op):
        table = backend.get_table(op["TableName"])
        attributes = op.get("Key") or op.get("Item") or {}
        keys = {table.hash_key_attr: attributes[table.hash_key_attr]}
        if table.range_key_attr:
            keys[table.range_key_attr] = attributes[table.range_key_attr]
        hash_key, range_key = backend.get_keys_value(table, keys)
        return table, hash_key, range_key

    def transact_write_items(self, transact_items):
        undo = []
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table, hash_key, range_key = item_key(self, op)
            except Exception:  # noqa: BLE001 - malformed entries are moto's to reject
                continue
            existing = table.get_item(hash_key, range_key)
            undo.append((table, hash_key, range_key, _copy.deepcopy(existing) if existing is not None else None))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(undo):
                if item is None:
                    table.delete_item(hash_key, range_key)
                elif range_key is not None:
                    table.items[hash_key][range_key] = item
                else:
                    table.items[hash_key] = item
            raise

    def apply():
        models.copy = CopyWithoutTableSnapshots()
        models.DynamoDBBackend.transact_write_items = transact_write_items

    return apply


def _query_prefilter():
    patch = "query-prefilter"
    table_class = _expect(patch, "moto.dynamodb.models.table:Table")
    original_all_items = _expect(patch, "moto.dynamodb.models.table:Table.all_items", "self")
    # `args[6]` below is index_name passed by position.
    original_query = _expect(
        patch, "moto.dynamodb.models.table:Table.query",
        "self", "hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key", "scan_index_forward",
        "projection_expressions", "index_name", "consistent_read", "filter_expression", "hash_key_conditions",
        "range_key_conditions", "filter_kwargs",
        source_has="self.all_items()",
    )
    import threading

    state = threading.local()

    def plain(value):
        # Strings only: numbers compare by numeric value ("1" = "1.0"), which is moto's to judge.
        return value.value if getattr(value, "type", None) == "S" and isinstance(value.value, str) else None

    def all_items(self):
        wanted = getattr(state, "wanted", None)
        if wanted is None or wanted[0] is not self:
            return original_all_items(self)
        _, conditions = wanted
        items = []
        for hash_set in self.items.values():
            for item in (hash_set.values() if self.range_key_attr else (hash_set,)):
                attrs = item.attrs
                if all(name in attrs and attrs[name].type == "S" and attrs[name].value == expected for name, expected in conditions):
                    items.append(item)
        return items

    def query(self, hash_key, *args, **kwargs):
        # Only the partition-key equalities Query requires; moto re-checks every item it is given.
        conditions = [(name, plain(value)) for name, value in (kwargs.get("hash_key_conditions") or [])]
        if not conditions and hash_key is not None and not kwargs.get("index_name") and (len(args) < 7 or not args[6]):
            conditions = [(self.hash_key_attr, plain(hash_key))]
        if any(expected is None for _, expected in conditions):
            conditions = []  # not a plain string key: no prefilter, moto checks every item
        previous = getattr(state, "wanted", None)
        state.wanted = (self, conditions)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            state.wanted = previous

    def apply():
        table_class.all_items = all_items
        table_class.query = query

    return apply


def _module_list_once():
    patch = "module-list-once"
    backends = _target(patch, "moto.backends")
    original = _expect(patch, "moto.backends:list_of_moto_modules")
    _expect(patch, "moto.moto_server.werkzeug_app:DomainDispatcherApplication.get_backend_for_host", source_has="backends.list_of_moto_modules()")

    def apply():
        modules = frozenset(original())
        backends.list_of_moto_modules = lambda: modules

    return apply


# --- Secrets Manager as documented -----------------------------------------------------------------


def _carrier(secret, label):
    """The version that carries `label`, if any."""
    for version_id, version in secret.versions.items():
        if label in version["version_stages"]:
            return version_id
    return None


def _drop(stages, label):
    while label in stages:
        stages.remove(label)


def _secrets_current_label():
    patch = "secrets-current-label"
    fake_secret = _expect(patch, "moto.secretsmanager.models:FakeSecret")
    if "default_version_id" in vars(fake_secret):
        raise ShapeError(patch, "FakeSecret.default_version_id is no longer a plain instance attribute")
    _expect(patch, "moto.secretsmanager.models:FakeSecret.__init__", source_has="self.versions")
    _expect(patch, "moto.secretsmanager.models:FakeSecret.reset_default_version", "self", "secret_version", "version_id")

    # The default version is the AWSCURRENT version; the stored id only serves a secret without one.
    def get_default_version_id(self):
        current = _carrier(self, _CURRENT) if "versions" in self.__dict__ else None
        return current if current is not None else self.__dict__.get("_keyroll_default_version_id")

    def set_default_version_id(self, version_id):
        self.__dict__["_keyroll_default_version_id"] = version_id

    def reset_default_version(self, secret_version, version_id):
        # moto calls this to make `version_id` AWSCURRENT (PutSecretValue with AWSCURRENT,
        # RotateSecret without a Lambda). The labels the request names move to the new
        # version; AWSPREVIOUS goes to the version AWSCURRENT left, whose other labels stay
        # (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
        wanted = secret_version["version_stages"]
        if _CURRENT not in wanted:
            wanted.append(_CURRENT)
        old_current = _carrier(self, _CURRENT)
        for other_id, other in self.versions.items():
            if other_id != version_id:
                for label in wanted:
                    _drop(other["version_stages"], label)
        if old_current is not None and old_current != version_id:
            for other in self.versions.values():
                _drop(other["version_stages"], _PREVIOUS)
            _drop(wanted, _PREVIOUS)
            self.versions[old_current]["version_stages"].append(_PREVIOUS)
        self.versions[version_id] = secret_version
        self.default_version_id = version_id

    def apply():
        fake_secret.default_version_id = property(get_default_version_id, set_default_version_id)
        fake_secret.reset_default_version = reset_default_version

    return apply


def _secrets_deprecated_versions():
    patch = "secrets-deprecated-versions"
    fake_secret = _expect(patch, "moto.secretsmanager.models:FakeSecret")
    _expect(patch, "moto.secretsmanager.models:FakeSecret._form_version_ids_to_stages", "self")
    response_class = _expect(patch, "moto.secretsmanager.responses:SecretsManagerResponse")
    original_list = _expect(patch, "moto.secretsmanager.responses:SecretsManagerResponse.list_secret_version_ids", "self")
    _expect(patch, "moto.secretsmanager.responses:SecretsManagerResponse._get_bool_param", "self", "param_name", "if_none")

    def form_version_ids_to_stages(self):
        return {version_id: version["version_stages"] for version_id, version in self.versions.items() if version["version_stages"]}

    def list_secret_version_ids(self):
        listed = _json.loads(original_list(self))
        if not self._get_bool_param("IncludeDeprecated", False):
            listed["Versions"] = [v for v in listed.get("Versions", []) if v.get("VersionStages")]
        return _json.dumps(listed)

    def apply():
        fake_secret._form_version_ids_to_stages = form_version_ids_to_stages
        response_class.list_secret_version_ids = list_secret_version_ids

    return apply


def _secrets_request_token():
    patch = "secrets-request-token"
    backend_class = _expect(patch, "moto.secretsmanager.models:SecretsManagerBackend")
    fake_secret = _expect(patch, "moto.secretsmanager.models:FakeSecret")
    resource_exists = _expect(patch, "moto.secretsmanager.exceptions:ResourceExistsException", "message")
    original_check = _expect(
        patch, "moto.secretsmanager.models:SecretsManagerBackend._check_with_existing_secrets_and_versions",
        "self", "secret_name", "client_request_token", "secret_string", "secret_binary", "on_create",
    )

    def check_with_existing_secrets_and_versions(self, secret_name, client_request_token, secret_string, secret_binary, on_create=False):
        existing = self.secrets.get(secret_name) if client_request_token and secret_name in self.secrets else None
        if isinstance(existing, fake_secret):
            version = existing.versions.get(client_request_token)
            if version is not None and ("secret_string" in version or "secret_binary" in version):
                if version.get("secret_string") == secret_string and version.get("secret_binary") == secret_binary:
                    return existing  # moto then answers with the version as it is: nothing changes
                raise resource_exists(
                    f"You can't use ClientRequestToken {client_request_token} because that value is already in use for a version of secret {existing.arn}."
                )
        return original_check(self, secret_name, client_request_token, secret_string, secret_binary, on_create=on_create)

    def apply():
        backend_class._check_with_existing_secrets_and_versions = check_with_existing_secrets_and_versions

    return apply


def _secrets_label_cas():
    patch = "secrets-label-cas"
    backend_class = _expect(patch, "moto.secretsmanager.models:SecretsManagerBackend")
    fake_secret = _expect(patch, "moto.secretsmanager.models:FakeSecret")
    not_found = _expect(patch, "moto.secretsmanager.exceptions:SecretNotFoundException")
    invalid = _expect(patch, "moto.secretsmanager.exceptions:InvalidParameterException", "message")
    original_update_stage = _expect(
        patch, "moto.secretsmanager.models:SecretsManagerBackend.update_secret_version_stage",
        "self", "secret_id", "version_stage", "remove_from_version_id", "move_to_version_id",
    )

    # Checked in full before anything changes.
    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        if secret_id not in self.secrets:
            raise not_found()
        secret = self.secrets[secret_id]
        if not isinstance(secret, fake_secret):  # replicas: moto's to refuse
            return original_update_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        label, move_to, remove_from = version_stage, move_to_version_id or None, remove_from_version_id or None
        for version_id in (move_to, remove_from):
            if version_id is not None and version_id not in secret.versions:
                raise invalid(f"Not a valid version: {version_id}")
        if move_to is None and remove_from is None:
            # Docs silent; strict reading: a request that names no version is invalid.
            raise invalid("You must specify MoveToVersionId, RemoveFromVersionId or both.")
        carrier = _carrier(secret, label)
        if move_to is not None and carrier is not None and remove_from is None:
            raise invalid(
                f"The parameter RemoveFromVersionId can't be empty. Staging label {label} is currently attached to version {carrier}, "
                "so you must explicitly reference that version in RemoveFromVersionId."
            )
        if remove_from is not None and remove_from != carrier:
            raise invalid(
                f"Staging label {label} is not attached to version {remove_from} (it is attached to {carrier or 'no version'}), "
                "so RemoveFromVersionId does not match."
            )
        if move_to is None:
            if label == _CURRENT:
                # Docs silent; strict reading: AWSCURRENT only moves, a secret is never left without it.
                raise invalid(f"Staging label {_CURRENT} can only be moved to another version, not removed.")
            _drop(secret.versions[remove_from]["version_stages"], label)
        elif carrier != move_to:  # already there: nothing moves, AWSPREVIOUS stays
            if carrier is not None:
                _drop(secret.versions[carrier]["version_stages"], label)
            secret.versions[move_to]["version_stages"].append(label)
            if label == _CURRENT and carrier is not None:
                for other in secret.versions.values():
                    _drop(other["version_stages"], _PREVIOUS)
                secret.versions[carrier]["version_stages"].append(_PREVIOUS)
        return secret.arn, secret.name

    def apply():
        backend_class.update_secret_version_stage = update_secret_version_stage

    return apply


# --- DynamoDB transaction limits -------------------------------------------------------------------
#
# transact-get-100-actions: over 100 actions, moto's own ValidationException ("Member must have
#   length less than or equal to 100").
#   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactGetItems.html
# transaction-4mb: "The aggregate size of the items in the transaction cannot exceed 4 MB"
#   (TransactWriteItems and TransactGetItems API references; 1 MB = 1024 KB, the quotas page).
#   Sizes are moto's own item sizes (attribute names + values, as DynamoDB counts): a Put counts
#   its new item, an Update the item as it is plus the values it writes (an upper bound of the
#   result), a Delete or ConditionCheck the item as it is, a Get the item read. The API reference
#   names the rule but not its error text: the refusal is a ValidationException (a rejected request,
#   nothing written) with KeyRoll's wording. Items over 400 KB are already refused by moto.
#   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
#   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html

_TRANSACTION_MAX_ACTIONS = 100


def _transact_get_100_actions():
    patch = "transact-get-100-actions"
    responses = _target(patch, "moto.dynamodb.responses")
    # moto's handler reads this module constant for TransactGetItems only.
    _expect(patch, "moto.dynamodb.responses:TRANSACTION_MAX_ITEMS", value=25)
    _expect(patch, "moto.dynamodb.responses:DynamoHandler.transact_get_items", "self", source_has="TRANSACTION_MAX_ITEMS")

    def apply():
        responses.TRANSACTION_MAX_ITEMS = _TRANSACTION_MAX_ACTIONS

    return apply


def _transaction_4mb():
    patch = "transaction-4mb"
    max_bytes = 4 * 1024 * 1024
    backend_class = _expect(patch, "moto.dynamodb.models:DynamoDBBackend")
    handler_class = _expect(patch, "moto.dynamodb.responses:DynamoHandler")
    validation = _expect(patch, "moto.dynamodb.exceptions:MockValidationException", "message")
    dynamo_type = _expect(patch, "moto.dynamodb.models.dynamo_type:DynamoType")
    _expect(patch, "moto.dynamodb.models.dynamo_type:DynamoType.size", "self")
    _expect(patch, "moto.dynamodb.models.dynamo_type:Item.size", "self")
    bytesize = _expect(patch, "moto.dynamodb.models.dynamo_type:bytesize", "val")
    _expect(patch, "moto.dynamodb.models:DynamoDBBackend.get_item", "self", "table_name", "keys", "projection_expressions")
    _expect(patch, "moto.dynamodb.models:DynamoDBBackend.transact_write_items", "self", "transact_items")
    _expect(patch, "moto.dynamodb.responses:DynamoHandler.transact_get_items", "self", source_has="self.body")
    _expect(patch, "moto.dynamodb.responses:DynamoHandler.dynamodb_backend")

    def attributes_size(attributes):
        return sum(bytesize(name) + dynamo_type(value).size() for name, value in (attributes or {}).items())

    def existing_size(backend, op):
        try:
            item = backend.get_item(op["TableName"], op["Key"])
        except Exception:  # noqa: BLE001 - an unknown table or bad key is moto's to reject
            return 0
        return item.size() if item is not None else 0

    def action_size(backend, kind, op):
        if kind == "Put":
            return attributes_size(op.get("Item"))
        if kind == "Update":
            return existing_size(backend, op) + attributes_size(op.get("ExpressionAttributeValues"))
        return existing_size(backend, op)

    def refuse_over_4_mb(size, operation):
        if size > max_bytes:
            raise validation(
                f"Transaction request size exceeds the maximum of 4 MB: the aggregate size of the items in the {operation} "
                f"request is {size} bytes (more than {max_bytes})."
            )

    def apply():
        # Applied after transaction-undo-log: this check runs first, then the undo log wraps moto's own.
        write_before_limits = backend_class.transact_write_items
        get_before_limits = handler_class.transact_get_items

        def transact_write_items_within_limits(self, transact_items):
            if len(transact_items) <= _TRANSACTION_MAX_ACTIONS:  # over it, moto's own ValidationException
                refuse_over_4_mb(sum(action_size(self, *next(iter(entry.items()))) for entry in transact_items), "TransactWriteItems")
            return write_before_limits(self, transact_items)

        def transact_get_items_within_limits(self):
            transact_items = self.body.get("TransactItems") or []
            if len(transact_items) <= _TRANSACTION_MAX_ACTIONS:
                refuse_over_4_mb(sum(existing_size(self.dynamodb_backend, entry.get("Get") or {}) for entry in transact_items), "TransactGetItems")
            return get_before_limits(self)

        backend_class.transact_write_items = transact_write_items_within_limits
        handler_class.transact_get_items = transact_get_items_within_limits

    return apply


# --- SNS subscriptions as documented ---------------------------------------------------------------

_PENDING = "PendingConfirmation"
_HTTP_TIMEOUT_S = 15  # the harness's bound on one webhook POST: a hung endpoint must not hold a thread forever


def _sns_account_of(arn):
    return arn.split(":")[4]


def _sns_subscription_confirmation():
    patch = "sns-subscription-confirmation"
    import secrets
    import threading
    import urllib.parse

    backend_class = _expect(patch, "moto.sns.models:SNSBackend")
    subscription_class = _expect(patch, "moto.sns.models:Subscription")
    response_class = _expect(patch, "moto.sns.responses:SNSResponse")
    urls = _target(patch, "moto.sns.urls")
    if "{0}/$" not in getattr(urls, "url_paths", {}):
        raise ShapeError(patch, "moto.sns.urls:url_paths has no `{0}/$`")
    sns_backends = _expect(patch, "moto.sns.models:sns_backends")
    sqs_backends = _expect(patch, "moto.sns.models:sqs_backends")
    action_result = _expect(patch, "moto.sns.responses:ActionResult", "result")
    invalid = _expect(patch, "moto.sns.exceptions:SNSInvalidParameter")
    original_subscribe = _expect(patch, "moto.sns.models:SNSBackend.subscribe", "self", "topic_arn", "endpoint", "protocol", source_has='"PendingConfirmation": False')
    _expect(patch, "moto.sns.models:SNSBackend._find_subscription", "self", "topic_arn", "endpoint", "protocol")
    original_publish = _expect(
        patch, "moto.sns.models:Subscription.publish",
        "self", "message", "message_id", "subject", "message_attributes", "group_id", "deduplication_id", "message_structure",
    )
    _expect(patch, "moto.sns.models:Subscription.get_post_data", "self", "message", "message_id", "subject", "message_attributes")
    _expect(patch, "moto.sns.models:Subscription.private_key", "self")
    original_response_subscribe = _expect(patch, "moto.sns.responses:SNSResponse.subscribe", "self", source_has="self.backend.subscribe(")
    _expect(patch, "moto.sns.responses:SNSResponse.confirm_subscription", "self")
    _expect(patch, "moto.sns.responses:SNSResponse.list_subscriptions", "self", source_has="self.backend.list_subscriptions(")
    _expect(patch, "moto.sns.responses:SNSResponse.list_subscriptions_by_topic", "self", source_has="self.backend.list_subscriptions_by_topic(")
    _expect(patch, "moto.sns.responses:SNSResponse.serve_pem", "request", "full_url", "headers")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    import base64

    request_state = threading.local()

    def is_pending(subscription):
        return subscription.attributes.get(_PENDING) is True

    def needs_confirmation(subscriber_account, subscription):
        protocol = subscription.protocol
        if protocol in ("http", "https", "email", "email-json"):
            return True
        if protocol == "sqs":
            queue_account = _sns_account_of(subscription.endpoint)
            return queue_account != subscription.topic.account_id and subscriber_account != queue_account
        return False

    def public_base(region):
        # The endpoint the Subscribe request came to (the serialising proxy), so the SubscribeURL works locally.
        host = getattr(request_state, "host", None)
        return f"http://{host}/sns_{region}" if host else f"https://sns.{region}.amazonaws.com"

    def sign(subscription, fields):
        # sns-verify-signature-of-message.html: "name\nvalue\n" for each field, in this order.
        text = "".join(f"{name}\n{fields[name]}\n" for name in ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"))
        signature = subscription.private_key().sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def confirmation(subscription):
        topic = subscription.topic
        region = topic.sns_backend.region_name
        message = (
            f"You have chosen to subscribe to the topic {topic.arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        )
        message_id = str(_uuid4())
        # moto's Notification data gives the Timestamp and a SigningCertURL whose PEM moto serves for this key.
        base = subscription.get_post_data(message, message_id, None)
        token = subscription._keyroll_token
        subscribe_url = f"{public_base(region)}/?" + urllib.parse.urlencode({"Action": "ConfirmSubscription", "TopicArn": topic.arn, "Token": token})
        body = {
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id,
            "Token": token,
            "TopicArn": topic.arn,
            "Message": message,
            "SubscribeURL": subscribe_url,
            "Timestamp": base["Timestamp"],
            "SignatureVersion": base["SignatureVersion"],
            "SigningCertURL": base["SigningCertURL"],  # AWS's host, as in moto's Notifications: clients check it
        }
        body["Signature"] = sign(subscription, body)
        return body

    def send_confirmation(subscription):
        body = confirmation(subscription)
        protocol = subscription.protocol
        if protocol in ("http", "https"):
            _post_later(subscription.endpoint, body, {"x-amz-sns-message-type": "SubscriptionConfirmation", "x-amz-sns-message-id": body["MessageId"], "x-amz-sns-topic-arn": body["TopicArn"]})
        elif protocol == "sqs":
            queue_account, region, queue_name = _sns_account_of(subscription.endpoint), subscription.endpoint.split(":")[3], subscription.endpoint.split(":")[-1]
            try:
                sqs_backends[queue_account][region].send_message(queue_name, _json.dumps(body, sort_keys=True, indent=2, separators=(",", ": ")))
            except Exception as error:  # noqa: BLE001 - a missing queue loses the confirmation, as on AWS
                _sys.stderr.write(f"{MARKER} {patch}: confirmation to {subscription.endpoint} not delivered: {error}\n")
        else:
            _EMAIL_OUTBOX.append({"To": subscription.endpoint, "Protocol": protocol, **body})

    def subscribe(self, topic_arn, endpoint, protocol):
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = original_subscribe(self, topic_arn, endpoint, protocol)
        if existing is None and needs_confirmation(self.account_id, subscription):
            subscription.attributes[_PENDING] = True
            subscription.attributes["ConfirmationWasAuthenticated"] = False
            subscription._keyroll_token = secrets.token_hex(128)
        if is_pending(subscription):
            send_confirmation(subscription)  # again on a repeated Subscribe, as SNS resends it
        return subscription

    def publish(self, message, message_id, subject=None, message_attributes=None, group_id=None, deduplication_id=None, message_structure=None):
        if is_pending(self):
            return  # nothing reaches an unconfirmed endpoint
        return original_publish(self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure)

    def response_subscribe(self):
        request_state.host = self.headers.get("Host")
        try:
            result = original_response_subscribe(self)
        finally:
            request_state.host = None
        arn = result.result["SubscriptionArn"]
        found = self.backend.subscriptions.get(arn)
        return_arn = str(self._get_param("ReturnSubscriptionArn", "false")).lower() == "true"
        if found is not None and is_pending(found) and not return_arn:
            return action_result({"SubscriptionArn": "pending confirmation"})
        return result

    def listed(subscriptions):
        return [
            {"SubscriptionArn": _PENDING, "Owner": s.owner, "Protocol": s.protocol, "Endpoint": s.endpoint, "TopicArn": s.topic.arn} if is_pending(s) else s
            for s in subscriptions
        ]

    def list_subscriptions(self):
        subscriptions, next_token = self.backend.list_subscriptions(next_token=self._get_param("NextToken"))
        return action_result({"Subscriptions": listed(subscriptions), "NextToken": next_token})

    def list_subscriptions_by_topic(self):
        subscriptions, next_token = self.backend.list_subscriptions_by_topic(self._get_param("TopicArn"), next_token=self._get_param("NextToken"))
        return action_result({"Subscriptions": listed(subscriptions), "NextToken": next_token})

    def confirm_subscription(self):
        topic_arn, token = self._get_param("TopicArn"), self._get_param("Token")
        self.backend.get_topic(topic_arn)  # TopicNotFound, as moto answered
        # The subscription lives in the subscriber's account's backend, whoever presents the token.
        for account_backends in list(sns_backends.values()):
            for backend in list(account_backends.values()):
                for subscription in list(backend.subscriptions.values()):
                    if subscription.topic.arn == topic_arn and token and getattr(subscription, "_keyroll_token", None) == token:
                        if is_pending(subscription):
                            subscription.attributes[_PENDING] = False
                            subscription.attributes["ConfirmationWasAuthenticated"] = "authorization" in {k.lower() for k in self.headers.keys()}
                        return action_result({"SubscriptionArn": subscription.arn})
        raise invalid("Invalid token")

    def email_outbox(request, full_url, headers):
        return 200, {"Content-Type": "application/json"}, _json.dumps(_EMAIL_OUTBOX)

    def apply():
        backend_class.subscribe = subscribe
        subscription_class.publish = publish
        response_class.subscribe = response_subscribe
        response_class.list_subscriptions = list_subscriptions
        response_class.list_subscriptions_by_topic = list_subscriptions_by_topic
        response_class.confirm_subscription = confirm_subscription
        # Unsigned GETs to /sns_<region>/... are routed to SNS by moto_server (get_service_from_path).
        urls.url_paths["{0}/sns_(?P<keyroll_region>[^/]+)/$"] = response_class.dispatch
        urls.url_paths["{0}/sns_(?P<keyroll_region>[^/]+)/SimpleNotificationService-(?P<pem_id>[^/]+).pem"] = response_class.serve_pem
        urls.url_paths["{0}/sns_(?P<keyroll_region>[^/]+)/keyroll/email-outbox$"] = email_outbox

    return apply


_EMAIL_OUTBOX = []


def _uuid4():
    from moto.moto_api._internal import mock_random

    return mock_random.uuid4()


def _post_later(url, body, headers):
    """POSTs `body` to an http(s) endpoint from a thread, as SNS delivers: never inside the request that caused it."""
    import threading

    import requests

    def post():
        try:
            requests.post(
                url,
                data=_json.dumps(body).encode("utf-8"),
                headers={"Content-Type": "text/plain; charset=UTF-8", "User-Agent": "Amazon Simple Notification Service Agent", **headers},
                timeout=_HTTP_TIMEOUT_S,
            )
        except Exception as error:  # noqa: BLE001 - an endpoint that fails loses the message (no retry policy here)
            _sys.stderr.write(f"{MARKER} sns-http-delivery: POST {url} failed: {type(error).__name__}: {error}\n")

    threading.Thread(target=post, name="keyroll-sns-http", daemon=True).start()


def _sns_http_delivery():
    patch = "sns-http-delivery"
    subscription_class = _expect(patch, "moto.sns.models:Subscription")
    original_publish = _expect(
        patch, "moto.sns.models:Subscription.publish",
        "self", "message", "message_id", "subject", "message_attributes", "group_id", "deduplication_id", "message_structure",
        source_has="requests.post(",
    )
    _expect(patch, "moto.sns.models:Subscription._parse_message_structure", "self", "message", "protocol")

    def apply():
        before = subscription_class.publish  # sns-subscription-confirmation's, when applied first

        def publish(self, message, message_id, subject=None, message_attributes=None, group_id=None, deduplication_id=None, message_structure=None):
            if self.protocol not in ("http", "https") or self.attributes.get(_PENDING) is True:
                return before(self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure)
            if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(message_attributes, message):
                return None
            if message_structure == "json":
                message = self._parse_message_structure(message, self.protocol)
            body = self.get_post_data(message, message_id, subject, message_attributes=message_attributes)
            body["UnsubscribeURL"] = f"https://sns.{self.topic.sns_backend.region_name}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.arn}"
            _post_later(
                self.endpoint,
                body,
                {"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": message_id, "x-amz-sns-topic-arn": self.topic.arn, "x-amz-sns-subscription-arn": self.arn},
            )
            return None

        subscription_class.publish = publish

    return apply


def _sns_sqs_queue_account():
    patch = "sns-sqs-queue-account"
    subscription_class = _expect(patch, "moto.sns.models:Subscription")
    _expect(
        patch, "moto.sns.models:Subscription.publish",
        "self", "message", "message_id", "subject", "message_attributes", "group_id", "deduplication_id", "message_structure",
        source_has="sqs_backends[self.account_id][region]",
    )

    def apply():
        before = subscription_class.publish

        def publish(self, message, message_id, subject=None, message_attributes=None, group_id=None, deduplication_id=None, message_structure=None):
            if self.protocol != "sqs":
                return before(self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure)
            # moto's SQS branch looks the queue up in sqs_backends[self.account_id]; one request runs at a
            # time (local/serializing-proxy.ts), so lending it the queue's account for the call is safe.
            own_account = self.account_id
            self.account_id = _sns_account_of(self.endpoint)
            try:
                return before(self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure)
            finally:
                self.account_id = own_account

        subscription_class.publish = publish

    return apply


def _sns_notification_signature():
    patch = "sns-notification-signature"
    subscription_class = _expect(patch, "moto.sns.models:Subscription")
    original = _expect(patch, "moto.sns.models:Subscription.get_post_data", "self", "message", "message_id", "subject", "message_attributes", source_has="string_to_sign")
    _expect(patch, "moto.sns.models:Subscription.private_key", "self")
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def get_post_data(self, message, message_id, subject, message_attributes=None):
        data = original(self, message, message_id, subject, message_attributes=message_attributes)
        if "Subject" in data:
            text = "".join(f"{name}\n{data[name]}\n" for name in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"))
            data["Signature"] = base64.b64encode(self.private_key().sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")
        return data

    def apply():
        subscription_class.get_post_data = get_post_data

    return apply


# Every patch checks its shape before any is applied, so moto is never left half patched.
_PATCHES = (
    _transaction_undo_log,
    _query_prefilter,
    _module_list_once,
    _secrets_current_label,
    _secrets_deprecated_versions,
    _secrets_request_token,
    _secrets_label_cas,
    _transact_get_100_actions,
    _transaction_4mb,
    _sns_subscription_confirmation,
    _sns_http_delivery,
    _sns_sqs_queue_account,
    _sns_notification_signature,
)


# Speed patches may be left out to measure what they earn (bench/README.md): KEYROLL_MOTO_SKIP=query-prefilter,...
_SKIPPABLE = ("transaction-undo-log", "query-prefilter", "module-list-once")


def _patch_moto():
    _check_version()
    skip = {name for name in _os.environ.get("KEYROLL_MOTO_SKIP", "").split(",") if name}
    if skip - set(_SKIPPABLE):
        raise ShapeError("KEYROLL_MOTO_SKIP", f"only {', '.join(_SKIPPABLE)} may be skipped, not {', '.join(sorted(skip - set(_SKIPPABLE)))}")
    for apply in [prepare() for prepare in _PATCHES if prepare.__name__.strip("_").replace("_", "-") not in skip]:
        apply()


def _moto_installed():
    import importlib.util as _util

    return _util.find_spec("moto") is not None


# A Python without moto is left alone: its probe then fails as "moto is missing", not as refused here.
# Python goes on after an exception in sitecustomize: exit instead, so moto never runs unpatched.
if _moto_installed():
    try:
        _patch_moto()
    except Exception as _error:  # noqa: BLE001
        _problem = _error if isinstance(_error, ShapeError) else f"applying the patches failed: {type(_error).__name__}: {_error}"
        _sys.stderr.write(f"{MARKER} {_problem}\n")
        _sys.stderr.flush()
        _os._exit(SHAPE_EXIT_STATUS)
