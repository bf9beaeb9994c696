"""moto made to scale as DynamoDB does: a request's cost grows with what it touches, not with the table.

moto 5.2 has two costs that grow with the whole table, where DynamoDB's do not:

- **TransactWriteItems** takes a deep copy of the whole table for every item
  of a transaction, to roll back on failure: a transaction of 100 claims on a
  table of 2,000 items takes seconds. Here the touched items are saved
  before (the Item itself, which a Put or Delete replaces; a copy of one an
  Update will change), and put back if the transaction is cancelled.
- **Query** lists and sorts every item of the table on each call
  (``Table.all_items``), keeps those of the partition (or of the index),
  walks every item before the page's start key, and checks the key
  condition on all that follow: a page of the due index on a 20,000-item
  table costs a second, and reading 10,000 due items page by page grows
  with their square. Here a query on the table sees only its partition, and
  a query on an index only the items the index holds under the asked hash
  key, in the index's order; of those, moto is given only the ones its page
  can reach (found by bisection: past the start key, within the key
  condition, one more than the limit, so that it still says whether there
  is a next page). moto then sorts, compares, filters and projects them
  itself, as before. Keys of numbers or bytes, and key schemas of several
  attributes, get the whole partition, as before.

``patched()`` keeps moto's own logic (conditions, cancellation reasons, one
operation per item, key conditions, ordering, pages, projections) and
replaces only those two. Used by the tests and the benchmark of the tick,
which send thousands of mails.
"""

from __future__ import annotations

import bisect
import copy
import sys
import threading
import types
from contextlib import contextmanager
from decimal import Decimal
from operator import itemgetter
from typing import Any, Iterator


def _sortable(value: Any) -> Any:
    """A key attribute in the order moto compares it: numbers by value, the rest as stored."""
    return Decimal(value.value) if value.type == "N" else value.value


def _in_order(items: list[Any], keys: list[str]) -> tuple[list[Any], list[tuple[str, ...]] | None]:
    """``items`` sorted as moto sorts them by ``keys``, with their keys' values when every one is a string."""
    if {item.attrs[k].type for item in items for k in keys} <= {"S"}:
        rows = sorted(((tuple([item.attrs[k].value for k in keys]), item) for item in items), key=itemgetter(0))
        return [item for _, item in rows], [key for key, _ in rows]
    items.sort(key=lambda item: tuple([_sortable(item.attrs[k]) for k in keys]))
    return items, None  # numbers or bytes: moto's own comparisons will judge them


def _every_item(table: Any) -> list[Any]:
    """A moto table's items, unsorted."""
    return [item for group in table.items.values() for item in (group.values() if table.range_key_attr else [group])]


_BOUNDS = {  # comparison: (where the matches start, where they end), as bisect functions of its values
    "EQ": ("left", "right"), "=": ("left", "right"), "LT": (None, "left"), "<": (None, "left"),
    "LE": (None, "right"), "<=": (None, "right"), "GT": ("right", None), ">": ("right", None),
    "GE": ("left", None), ">=": ("left", None), "BETWEEN": ("left", "right"), "BEGINS_WITH": ("left", "left"),
}


def _page_window(items: list[Any], sort_keys: list[tuple[str, ...]], keys: list[str], range_attr: str | None,
                 comparison: str | None, values: list[Any], start_key: dict[str, Any] | None, forward: bool,
                 limit: int | None) -> list[Any]:
    """Of ``items`` (one partition, in the order of ``keys``, whose string values are ``sort_keys``), those a
    page can reach: past the start key, within the key condition (and one item beyond it), one more than
    ``limit``. Anything this cannot judge is given whole, as moto would be."""
    low, high = 0, len(items)
    if comparison is not None:
        if comparison not in _BOUNDS or range_attr not in keys or any(v.type != "S" for v in values):
            return items
        start, end = _BOUNDS[comparison]
        bounds = [v.value for v in values]
        if comparison == "BEGINS_WITH":
            prefix = bounds[0]
            if not prefix or ord(prefix[-1]) == sys.maxunicode:
                return items
            bounds = [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]  # s starts with p  <=>  p <= s < p's successor
        by_range = itemgetter(keys.index(range_attr))
        if start is not None:
            low = (bisect.bisect_left if start == "left" else bisect.bisect_right)(sort_keys, bounds[0], key=by_range)
        if end is not None:
            high = (bisect.bisect_left if end == "left" else bisect.bisect_right)(sort_keys, bounds[-1], key=by_range)
    if start_key is not None:
        if any(set(start_key.get(k) or {}) != {"S"} for k in keys):
            return items
        at = tuple(start_key[k]["S"] for k in keys)
        if forward:
            low = max(low, bisect.bisect_right(sort_keys, at))
        else:
            high = min(high, bisect.bisect_left(sort_keys, at))
    # moto answers a next page when, its limit reached, any item follows in the partition, in the key
    # condition or not: one more item on each side keeps that (moto skips it if it is outside).
    if forward:
        high = min(len(items), high + 1, low + limit + 1 if limit else len(items))
    else:
        low = max(0, low - 1, high - limit - 1 if limit else 0)
    return items[low:high]


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
        keys = sort_keys = range_attr = None
        if index_name:
            # The items the index holds under the asked hash key, in the index's
            # order (moto sorts them again; on sorted input that is one pass).
            schema = self.get_index(index_name).schema
            hashes = [k["AttributeName"] for k in schema if k["KeyType"] == "HASH"]
            ranges = [k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"]
            keys = [*hashes, *ranges, self.hash_key_attr, *([self.range_key_attr] if self.range_key_attr else [])]
            conditions = kwargs.get("hash_key_conditions") or []
            if len(hashes) == 1 and len(ranges) <= 1 and [name for name, _ in conditions] == hashes:
                # One pass over the table (in DynamoDB, a partition of the index), strings compared as
                # strings, anything else as moto compares it.
                first, wanted, raw = hashes[0], conditions[0][1], conditions[0][1].type == "S"
                candidates = [item for item in _every_item(self)
                              if (value := item.attrs.get(first)) is not None
                              and (value.value == wanted.value and value.type == "S" if raw else value == wanted)
                              and all(k in item.attrs for k in keys)]
                range_attr = ranges[0] if ranges else None
                candidates, sort_keys = _in_order(candidates, keys)
            else:  # a key schema of several attributes: moto's own pass over all the index holds
                candidates = [item for item in _every_item(self) if all(k in item.attrs for k in keys)]
        elif hash_key is None:
            candidates = _every_item(self)
        else:
            group = self.items.get(hash_key)
            candidates = [] if group is None else list(group.values()) if self.range_key_attr else [group]
            if self.range_key_attr:
                keys, range_attr = [self.range_key_attr], self.range_key_attr
                candidates, sort_keys = _in_order(candidates, keys)
        if sort_keys is not None and set(kwargs) <= {"consistent_read", "filter_expression", "hash_key_conditions",
                                                     "range_key_conditions"}:
            named = kwargs.get("range_key_conditions") or []
            if len(named) <= 1 and all(name == range_attr for name, _, _ in named):
                candidates = _page_window(candidates, sort_keys, keys, range_attr, range_comparison, range_objs,
                                          exclusive_start_key, scan_index_forward is not False, limit)
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
