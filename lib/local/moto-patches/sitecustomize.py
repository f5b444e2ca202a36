"""KeyRoll's patches to moto, loaded at interpreter start (the local moto launcher puts this
directory on PYTHONPATH, so Python imports it as sitecustomize).

DynamoDB (speed and atomicity; answers stay moto's):

1. One lock around the DynamoDB backend's calls. moto's server answers requests on threads,
   and its TransactWriteItems rolls back by putting back a snapshot of the whole table taken
   before the transaction: a write another thread made in between is lost, and a conditional
   write can interleave with a transaction. DynamoDB makes both atomic; so does this lock.
2. An undo log instead of that whole-table snapshot: moto deep-copies every table a
   transaction touches, once per operation, which makes each transaction O(table size)
   (seconds per rotation once a table holds a few thousand clients). Here only the items the
   transaction names are copied, and restored if it fails.
3. Query without sorting the whole table first: moto's Query starts from `all_items()`,
   which sorts every item of the table by its key (comparisons of moto's typed values, about
   a quarter of a second per Query on a 300-client table), then keeps the matches and sorts
   those again by the index's own key. Inside Query the first sort is skipped and items whose
   partition key cannot match are dropped by a plain comparison of type and value before
   moto's own checks. The result, its order and its paging are moto's.
4. The server looks each request's service up in the list of moto's modules, which it
   rebuilds from a directory listing (a stat per module) on every request; the list is
   read once.

Secrets Manager (moto 5.2 is more lenient than AWS documents; here it answers as documented,
so a test cannot pass on behaviour AWS does not have; test/aws/moto-secrets-strict.test.ts
cites the API reference for each):

5. UpdateSecretVersionStage is a compare-and-set on the label. A label attached to any version
   moves only when RemoveFromVersionId names that version (moto attached it a second time
   when RemoveFromVersionId was left out, except for AWSCURRENT); a move to the version that
   already carries it changes nothing (moto dropped AWSPREVIOUS); a request that fails
   changes nothing (moto removed the label, then failed on an unknown MoveToVersionId).
   Where the API reference is silent the strict reading is taken: a call naming neither
   version, and removing AWSCURRENT without moving it, are refused.
6. Versions without labels are deprecated: DescribeSecret's VersionIdsToStages (and
   ListSecrets' SecretVersionsToStages) leave them out, and ListSecretVersionIds lists them
   only with IncludeDeprecated (moto listed them with [] everywhere). GetSecretValue by
   VersionId still reads them, as AWS does for versions less than 24 hours old.
7. PutSecretValue / CreateSecret / UpdateSecret with a ClientRequestToken that names a version
   holding a value: same data succeeds and changes nothing, different data is
   ResourceExistsException. moto rewrote the version (value and labels) whenever it carried
   AWSPENDING. moto's own RotateSecret placeholder (a version without a value) is still filled.
8. AWSCURRENT is wherever the label is: moto kept a separate "default version" that
   UpdateSecretVersionStage never moved, so GetSecretValue without VersionId/VersionStage read
   a stale version and a later PutSecretValue made a second AWSCURRENT. Moving AWSCURRENT by
   PutSecretValue keeps the old version's other labels (moto replaced them all with
   AWSPREVIOUS) and moves every label the request names. One lock makes each of these
   requests atomic, as the DynamoDB lock does.

Nothing else changes: every other request runs moto's own code.
"""
import copy as _copy
import functools as _functools
import threading as _threading

try:  # moto absent or changed shape: run unpatched rather than not at all.
    from moto.dynamodb import models as _models

    _Backend = _models.DynamoDBBackend
    _Table = _models.Table
except Exception:  # noqa: BLE001
    _models = None

if _models is not None and not getattr(_models, "_keyroll_patched", False):
    _models._keyroll_patched = True
    _lock = _threading.RLock()

    def _locked(method):
        @_functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            with _lock:
                return method(self, *args, **kwargs)

        return wrapper

    for _name in (
        "put_item", "update_item", "delete_item", "get_item", "query", "scan",
        "batch_get_item", "transact_get_items", "create_table", "delete_table", "update_table",
        "describe_table", "update_time_to_live", "list_tables",
    ):
        if callable(getattr(_Backend, _name, None)):
            setattr(_Backend, _name, _locked(getattr(_Backend, _name)))

    class _CopyWithoutTableSnapshots:
        """The `copy` module as moto's DynamoDB models see it: a Table is not copied (the undo log below restores instead)."""

        def deepcopy(self, obj, memo=None):
            if isinstance(obj, _Table):
                return obj
            return _copy.deepcopy(obj, memo)

        def __getattr__(self, name):
            return getattr(_copy, name)

    _models.copy = _CopyWithoutTableSnapshots()
    _original_transact = _Backend.transact_write_items

    def _item_key(backend, op):
        table = backend.get_table(op["TableName"])
        attributes = op.get("Key") or op.get("Item") or {}
        keys = {table.hash_key_attr: attributes[table.hash_key_attr]}
        if table.range_key_attr:
            keys[table.range_key_attr] = attributes[table.range_key_attr]
        hash_key, range_key = backend.get_keys_value(table, keys)
        return table, hash_key, range_key

    def transact_write_items(self, transact_items):
        with _lock:
            undo = []
            for entry in transact_items:
                try:
                    _, op = next(iter(entry.items()))
                    table, hash_key, range_key = _item_key(self, op)
                except Exception:  # noqa: BLE001 - malformed entries are moto's to reject
                    continue
                existing = table.get_item(hash_key, range_key)
                undo.append((table, hash_key, range_key, _copy.deepcopy(existing) if existing is not None else None))
            try:
                return _original_transact(self, transact_items)
            except Exception:
                for table, hash_key, range_key, item in reversed(undo):
                    if item is None:
                        table.delete_item(hash_key, range_key)
                    elif range_key is not None:
                        table.items[hash_key][range_key] = item
                    else:
                        table.items[hash_key] = item
                raise

    _Backend.transact_write_items = transact_write_items


# 3. Query without the whole-table sort (see the module comment).
try:
    from moto.dynamodb.models import table as _table_module
except Exception:  # noqa: BLE001
    _table_module = None

if _table_module is not None and not getattr(_table_module, "_keyroll_query_patched", False):
    _table_module._keyroll_query_patched = True
    _TableClass = _table_module.Table
    _original_all_items = _TableClass.all_items
    _original_query = _TableClass.query
    _query_state = _threading.local()

    def _plain(value):
        # Strings only: numbers compare by numeric value ("1" = "1.0"), which is moto's to judge.
        return value.value if getattr(value, "type", None) == "S" and isinstance(value.value, str) else None

    def all_items(self):
        wanted = getattr(_query_state, "wanted", None)
        if wanted is None or wanted[0] is not self:
            return _original_all_items(self)
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
        conditions = [(name, _plain(value)) for name, value in (kwargs.get("hash_key_conditions") or [])]
        if not conditions and hash_key is not None and not kwargs.get("index_name") and (len(args) < 7 or not args[6]):
            conditions = [(self.hash_key_attr, _plain(hash_key))]
        if any(expected is None for _, expected in conditions):
            conditions = []  # not a plain string key: no prefilter, moto checks every item
        previous = getattr(_query_state, "wanted", None)
        _query_state.wanted = (self, conditions)
        try:
            return _original_query(self, hash_key, *args, **kwargs)
        finally:
            _query_state.wanted = previous

    _TableClass.all_items = all_items
    _TableClass.query = query

# 4. The module list, read once (see the module comment).
try:
    from moto import backends as _backends
except Exception:  # noqa: BLE001
    _backends = None

if _backends is not None and not getattr(_backends, "_keyroll_modules_cached", False):
    _backends._keyroll_modules_cached = True
    _modules = frozenset(_backends.list_of_moto_modules())
    _backends.list_of_moto_modules = lambda: _modules

# 5-8. Secrets Manager as the API reference documents it (see the module comment).
try:
    import json as _json

    from moto.secretsmanager import exceptions as _sm_exceptions
    from moto.secretsmanager import models as _sm_models
    from moto.secretsmanager import responses as _sm_responses
except Exception:  # noqa: BLE001
    _sm_models = None

if _sm_models is not None and not getattr(_sm_models, "_keyroll_strict", False):
    _sm_models._keyroll_strict = True
    _sm_lock = _threading.RLock()
    _SmBackend = _sm_models.SecretsManagerBackend
    _FakeSecret = _sm_models.FakeSecret
    _InvalidParameter = _sm_exceptions.InvalidParameterException
    _CURRENT, _PREVIOUS = "AWSCURRENT", "AWSPREVIOUS"

    def _sm_locked(method):
        @_functools.wraps(method)
        def wrapper(*args, **kwargs):
            with _sm_lock:
                return method(*args, **kwargs)

        return wrapper

    def _carrier(secret, label):
        """The version that carries `label`, if any."""
        for version_id, version in secret.versions.items():
            if label in version["version_stages"]:
                return version_id
        return None

    def _drop(stages, label):
        while label in stages:
            stages.remove(label)

    # 8. The default version is the AWSCURRENT version; the stored id only serves a secret without one.
    def _get_default_version_id(self):
        current = _carrier(self, _CURRENT) if "versions" in self.__dict__ else None
        return current if current is not None else self.__dict__.get("_keyroll_default_version_id")

    def _set_default_version_id(self, version_id):
        self.__dict__["_keyroll_default_version_id"] = version_id

    _FakeSecret.default_version_id = property(_get_default_version_id, _set_default_version_id)

    def reset_default_version(self, secret_version, version_id):
        # moto calls this to make `version_id` AWSCURRENT (PutSecretValue with AWSCURRENT,
        # RotateSecret without a Lambda). The labels the request names move to the new
        # version; AWSPREVIOUS goes to the version AWSCURRENT left, whose other labels stay
        # (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
        with _sm_lock:
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

    _FakeSecret.reset_default_version = reset_default_version

    # 6. Unlabelled (deprecated) versions are not listed by DescribeSecret / ListSecrets.
    def _form_version_ids_to_stages(self):
        return {version_id: version["version_stages"] for version_id, version in self.versions.items() if version["version_stages"]}

    _FakeSecret._form_version_ids_to_stages = _form_version_ids_to_stages
    _FakeSecret.to_dict = _sm_locked(_FakeSecret.to_dict)

    _original_list_versions = _sm_responses.SecretsManagerResponse.list_secret_version_ids

    def list_secret_version_ids(self):
        listed = _json.loads(_original_list_versions(self))
        if not self._get_bool_param("IncludeDeprecated", False):
            listed["Versions"] = [v for v in listed.get("Versions", []) if v.get("VersionStages")]
        return _json.dumps(listed)

    _sm_responses.SecretsManagerResponse.list_secret_version_ids = list_secret_version_ids

    # 7. A ClientRequestToken that names a version with a value: same data is a no-op, other data fails.
    _original_check = _SmBackend._check_with_existing_secrets_and_versions

    def _check_with_existing_secrets_and_versions(self, secret_name, client_request_token, secret_string, secret_binary, on_create=False):
        existing = self.secrets.get(secret_name) if client_request_token and secret_name in self.secrets else None
        if isinstance(existing, _FakeSecret):
            version = existing.versions.get(client_request_token)
            if version is not None and ("secret_string" in version or "secret_binary" in version):
                if version.get("secret_string") == secret_string and version.get("secret_binary") == secret_binary:
                    return existing  # moto then answers with the version as it is: nothing changes
                raise _sm_exceptions.ResourceExistsException(
                    f"You can't use ClientRequestToken {client_request_token} because that value is already in use for a version of secret {existing.arn}."
                )
        return _original_check(self, secret_name, client_request_token, secret_string, secret_binary, on_create=on_create)

    _SmBackend._check_with_existing_secrets_and_versions = _check_with_existing_secrets_and_versions

    # 5. UpdateSecretVersionStage as a compare-and-set, checked in full before anything changes.
    _original_update_stage = _SmBackend.update_secret_version_stage

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        with _sm_lock:
            if secret_id not in self.secrets:
                raise _sm_exceptions.SecretNotFoundException()
            secret = self.secrets[secret_id]
            if not isinstance(secret, _FakeSecret):  # replicas: moto's to refuse
                return _original_update_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
            label, move_to, remove_from = version_stage, move_to_version_id or None, remove_from_version_id or None
            for version_id in (move_to, remove_from):
                if version_id is not None and version_id not in secret.versions:
                    raise _InvalidParameter(f"Not a valid version: {version_id}")
            if move_to is None and remove_from is None:
                # Docs silent; strict reading: a request that names no version is invalid.
                raise _InvalidParameter("You must specify MoveToVersionId, RemoveFromVersionId or both.")
            carrier = _carrier(secret, label)
            if move_to is not None and carrier is not None and remove_from is None:
                raise _InvalidParameter(
                    f"The parameter RemoveFromVersionId can't be empty. Staging label {label} is currently attached to version {carrier}, "
                    "so you must explicitly reference that version in RemoveFromVersionId."
                )
            if remove_from is not None and remove_from != carrier:
                raise _InvalidParameter(
                    f"Staging label {label} is not attached to version {remove_from} (it is attached to {carrier or 'no version'}), "
                    "so RemoveFromVersionId does not match."
                )
            if move_to is None:
                if label == _CURRENT:
                    # Docs silent; strict reading: AWSCURRENT only moves, a secret is never left without it.
                    raise _InvalidParameter(f"Staging label {_CURRENT} can only be moved to another version, not removed.")
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

    _SmBackend.update_secret_version_stage = update_secret_version_stage

    # Rotations run in a Lambda that may call back into this server: RotateSecret is not locked.
    for _name in (
        "create_secret", "put_secret_value", "update_secret", "get_secret_value", "batch_get_secret_value",
        "describe_secret", "list_secret_version_ids", "list_secrets", "delete_secret", "restore_secret",
    ):
        if callable(getattr(_SmBackend, _name, None)):
            setattr(_SmBackend, _name, _sm_locked(getattr(_SmBackend, _name)))


# 9-10. DynamoDB transaction limits as AWS enforces them (test/aws/moto-dynamodb-limits.test.ts).
#
# 9. TransactGetItems takes up to 100 actions, as TransactWriteItems does: moto still refuses
#    more than 25 (the limit before September 2022), so a read AWS serves failed here. Over 100,
#    moto's own ValidationException ("Member must have length less than or equal to 100").
#    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactGetItems.html
# 10. "The aggregate size of the items in the transaction cannot exceed 4 MB" (TransactWriteItems
#    and TransactGetItems API references; 1 MB = 1024 KB, the quotas page). moto has no such
#    check. Sizes are moto's own item sizes (attribute names + values, as DynamoDB counts):
#    a Put counts its new item, an Update the item as it is plus the values it writes (an upper
#    bound of the result), a Delete or ConditionCheck the item as it is, a Get the item read.
#    The API reference names the rule but not its error text: the refusal is a
#    ValidationException (a rejected request, nothing written) with KeyRoll's wording.
#    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
#    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
#    (items over 400 KB are already refused by moto: "Item size has exceeded the maximum allowed size")
try:
    from moto.dynamodb import exceptions as _ddb_exceptions
    from moto.dynamodb import models as _ddb_models
    from moto.dynamodb import responses as _ddb_responses
    from moto.dynamodb.models.dynamo_type import DynamoType as _DynamoType
    from moto.dynamodb.models.dynamo_type import bytesize as _bytesize
except Exception:  # noqa: BLE001
    _ddb_responses = None

if _ddb_responses is not None and not getattr(_ddb_responses, "_keyroll_limits_patched", False):
    _ddb_responses._keyroll_limits_patched = True
    _TRANSACTION_MAX_ACTIONS = 100
    _TRANSACTION_MAX_BYTES = 4 * 1024 * 1024

    # 9. moto's handler reads this module constant for TransactGetItems only.
    _ddb_responses.TRANSACTION_MAX_ITEMS = _TRANSACTION_MAX_ACTIONS

    def _attributes_size(attributes):
        return sum(_bytesize(name) + _DynamoType(value).size() for name, value in (attributes or {}).items())

    def _existing_size(backend, op):
        try:
            item = backend.get_item(op["TableName"], op["Key"])
        except Exception:  # noqa: BLE001 - an unknown table or bad key is moto's to reject
            return 0
        return item.size() if item is not None else 0

    def _action_size(backend, kind, op):
        if kind == "Put":
            return _attributes_size(op.get("Item"))
        if kind == "Update":
            return _existing_size(backend, op) + _attributes_size(op.get("ExpressionAttributeValues"))
        return _existing_size(backend, op)

    def _refuse_over_4_mb(size, operation):
        if size > _TRANSACTION_MAX_BYTES:
            raise _ddb_exceptions.MockValidationException(
                f"Transaction request size exceeds the maximum of 4 MB: the aggregate size of the items in the {operation} "
                f"request is {size} bytes (more than {_TRANSACTION_MAX_BYTES})."
            )

    _transact_write_before_limits = _ddb_models.DynamoDBBackend.transact_write_items

    def transact_write_items_within_limits(self, transact_items):
        if len(transact_items) <= _TRANSACTION_MAX_ACTIONS:  # over it, moto's own ValidationException
            size = 0
            for entry in transact_items:
                kind, op = next(iter(entry.items()))
                size += _action_size(self, kind, op)
            _refuse_over_4_mb(size, "TransactWriteItems")
        return _transact_write_before_limits(self, transact_items)

    _ddb_models.DynamoDBBackend.transact_write_items = transact_write_items_within_limits

    _transact_get_before_limits = _ddb_responses.DynamoHandler.transact_get_items

    def transact_get_items_within_limits(self):
        transact_items = self.body.get("TransactItems") or []
        if len(transact_items) <= _TRANSACTION_MAX_ACTIONS:
            _refuse_over_4_mb(sum(_existing_size(self.dynamodb_backend, entry.get("Get") or {}) for entry in transact_items), "TransactGetItems")
        return _transact_get_before_limits(self)

    _ddb_responses.DynamoHandler.transact_get_items = transact_get_items_within_limits
