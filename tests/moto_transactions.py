"""moto's TransactWriteItems, made to cost what DynamoDB's does: the items it touches, not the whole table.

moto 5.2 takes a deep copy of the whole table for every item of a
transaction, to roll back on failure: a transaction of 100 claims on a table
of 2,000 items takes seconds, where DynamoDB's cost does not grow with the
table. ``patched()`` keeps moto's own transaction logic (conditions,
cancellation reasons, one operation per item) and replaces only the
snapshot: the touched items are saved before, and put back if the
transaction is cancelled. Used by the tests and the benchmark of the tick,
which send thousands of mails through transactions.
"""

from __future__ import annotations

import copy
import types
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def patched() -> Iterator[None]:
    """Within this block, moto's TransactWriteItems snapshots touched items only."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original_module_copy = models.copy
    original_method = models.DynamoDBBackend.transact_write_items

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items[:100]:
            _, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            if "Key" in op:
                key = op["Key"]
            else:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            current = self.get_item(op["TableName"], key)
            saved.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        try:
            original_method(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(saved):
                if attributes is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    models.copy = types.SimpleNamespace(deepcopy=deepcopy)
    models.DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        models.copy = original_module_copy
        models.DynamoDBBackend.transact_write_items = original_method
