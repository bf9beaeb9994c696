"""moto made to scale as DynamoDB does: a request's cost grows with what it touches, not with the table.

moto 5.2 has two costs that grow with the whole table, where DynamoDB's do not:

- **TransactWriteItems** takes a deep copy of the whole table for every item
  of a transaction, to roll back on failure: a transaction of 100 claims on a
  table of 2,000 items takes seconds. Here the touched items are saved
  before (the Item itself, which a Put or Delete replaces; a copy of one an
  Update will change), and put back if the transaction is cancelled.
- **Query** lists and sorts every item of the table on each call
  (``Table.all_items``), then keeps those of the partition (or of the
  index): a page of the due index on a 20,000-item table costs a second.
  Here a query on the table sees only its partition, and a query on an index
  only the items the index holds, already in the index's order (moto still
  sorts and filters them itself, as before; on sorted input that is one pass).

``patched()`` keeps moto's own logic (conditions, cancellation reasons, one
operation per item, key conditions, ordering, pages, projections) and
replaces only those two. Used by the tests and the benchmark of the tick,
which send thousands of mails.
"""

from __future__ import annotations

import copy
import threading
import types
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator


def _sortable(value: Any) -> Any:
    """A key attribute in the order moto compares it: numbers by value, the rest as stored."""
    if value.type == "N":
        return Decimal(value.value)
    return value.value


def _every_item(table: Any) -> list[Any]:
    """A moto table's items, unsorted."""
    return [item for group in table.items.values() for item in (group.values() if table.range_key_attr else [group])]


@contextmanager
def patched() -> Iterator[None]:
    """Within this block, moto's TransactWriteItems snapshots touched items only, and Query sees its partition."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original_module_copy = models.copy
    original_method = models.DynamoDBBackend.transact_write_items

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
        # A Put or a Delete replaces moto's Item object and leaves the old one
        # as it was, so keeping a reference saves it; an Update changes the
        # item in place, so that one is copied.
        saved = []
        for entry in transact_items[:100]:
            kind, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            if "Key" in op:
                key = op["Key"]
            else:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            current = self.get_item(op["TableName"], key)
            saved.append((table, key, copy.deepcopy(current) if kind == "Update" and current else current))
        try:
            original_method(self, transact_items)
        except Exception:
            for table, key, item in reversed(saved):
                if item is None:
                    if self.get_item(table.name, key) is not None:
                        self.delete_item(table.name, key)
                elif item.range_key is not None:
                    table.items[item.hash_key][item.range_key] = item
                else:
                    table.items[item.hash_key] = item
            raise

    original_query, original_all_items = Table.query, Table.all_items
    querying = threading.local()

    def query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
              projection_expressions, index_name=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        if index_name:
            # The items the index holds, already in its order (moto sorts them
            # again; on sorted input that is one pass).
            keys = [k["AttributeName"] for k in self.get_index(index_name).schema]
            keys = [*keys, self.hash_key_attr, *([self.range_key_attr] if self.range_key_attr else [])]
            candidates = [item for item in _every_item(self) if all(k in item.attrs for k in keys)]
            candidates.sort(key=lambda item: tuple(_sortable(item.attrs[k]) for k in keys))
        elif hash_key is None:
            candidates = _every_item(self)
        else:
            group = self.items.get(hash_key)
            candidates = [] if group is None else list(group.values()) if self.range_key_attr else [group]
        querying.table, querying.items = self, candidates
        try:
            return original_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                                  scan_index_forward, projection_expressions, index_name, *args, **kwargs)
        finally:
            querying.table = querying.items = None

    def all_items(self):  # type: ignore[no-untyped-def]
        if getattr(querying, "table", None) is self:
            return querying.items
        return original_all_items(self)  # a Scan: moto's sorted order, for its pages

    models.copy = types.SimpleNamespace(deepcopy=deepcopy)
    models.DynamoDBBackend.transact_write_items = transact_write_items
    Table.query, Table.all_items = query, all_items
    try:
        yield
    finally:
        models.copy = original_module_copy
        models.DynamoDBBackend.transact_write_items = original_method
        Table.query, Table.all_items = original_query, original_all_items
