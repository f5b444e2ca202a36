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
3. Query without sorting the whole table first: moto's Query starts from `all_items()`,
   which sorts every item of the table by its key (comparisons of moto's typed values, about
   a quarter of a second per Query on a 300-client table), then keeps the matches and sorts
   those again by the index's own key. Inside Query the first sort is skipped and items whose
   partition key cannot match are dropped by a plain comparison of type and value before
   moto's own checks. The result, its order and its paging are moto's.
4. The server looks each request's service up in the list of moto's modules, which it
   rebuilds from a directory listing (a stat per module) on every request; the list is
   read once.

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
