"""KeyRoll's patches to moto's DynamoDB emulation, loaded at interpreter start (the local
moto launcher puts this directory on PYTHONPATH, so Python imports it as sitecustomize).

1. One lock around the DynamoDB backend's calls. moto's server answers requests on threads,
   and its TransactWriteItems rolls back by putting back a snapshot of the whole table taken
   before the transaction: a write another thread made in between is lost, and a conditional
   write can interleave with a transaction. DynamoDB makes both atomic; so does this lock.
2. An undo log instead of that whole-table snapshot: moto deep-copies every table a
   transaction touches, once per operation, which makes each transaction O(table size)
   (seconds per rotation once a table holds a few thousand clients). Here only the items the
   transaction names are copied, and restored if it fails.

Nothing else changes: every request still runs moto's own code.
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
