"""Request plumbing shared by the item families: retries, paging, batches, transactions.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from chalicelib.adapters.dynamodb.keys import CONFLICT_PAUSE, CONFLICT_TRIES, TRANSACTION_MAX, TRANSACTION_ROUNDS
from chalicelib.errors import PartialWrite, Unavailable


class Calls:

    # --- plumbing

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(CONFLICT_TRIES):
            try:
                return getattr(self.client, operation)(TableName=self.table, **kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "TransactionConflictException" and attempt + 1 < CONFLICT_TRIES:
                    # A write to an item a transaction is writing at that moment
                    # (staff change an event while a confirm takes a seat): the
                    # transaction takes milliseconds. botocore does not retry it.
                    time.sleep(CONFLICT_PAUSE * 2 ** attempt * (1 + secrets.randbelow(100) / 100))
                    continue
                if code in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
                    raise
                if code in {"ResourceNotFoundException", "ProvisionedThroughputExceededException",
                            "ThrottlingException", "RequestLimitExceeded", "InternalServerError",
                            "ServiceUnavailable", "TransactionConflictException"}:
                    raise Unavailable(f"storage: {code}") from exc
                raise
            except BotoCoreError as exc:
                raise Unavailable(f"storage: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._call("query", **kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _is_condition_failure(exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        return code == "ConditionalCheckFailedException"

    def _landed(self, item: dict[str, Any], attempt: str) -> bool:
        """Whether a conditional write that failed was in fact ours, landed on an earlier try.

        botocore retries a call whose answer was lost; the retry then fails
        its condition on our own write. Each write carries a random
        ``write_id``, so it recognises itself and no one else's.
        """
        stored = self._call("get_item", Key={"PK": item["PK"], "SK": item["SK"]}, ConsistentRead=True).get("Item", {})
        return stored.get("write_id", {}).get("S") == attempt

    def _transact(self, items: list[dict[str, Any]]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise
            raise Unavailable(f"storage: {exc.response.get('Error', {}).get('Code')}") from exc
        except BotoCoreError as exc:  # a timeout or a dropped connection: the caller may retry
            raise Unavailable(f"storage: {type(exc).__name__}") from exc

    @staticmethod
    def _cancellation_reasons(exc: Exception) -> list[dict[str, Any]]:
        return getattr(exc, "response", {}).get("CancellationReasons") or []

    @classmethod
    def _cancellation_codes(cls, exc: Exception) -> list[str]:
        return [r.get("Code", "None") for r in cls._cancellation_reasons(exc)]

    def _batch_get(self, keys: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
        """The items at ``keys``, 100 to a BatchGetItem, unprocessed keys asked again; ``options`` per request."""
        from botocore.exceptions import BotoCoreError, ClientError

        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request = {self.table: {"Keys": keys[start:start + 100], **options}}
            while request:
                try:
                    reply = self.client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise Unavailable(f"storage: {type(exc).__name__}") from exc
                items += reply.get("Responses", {}).get(self.table, [])
                request = reply.get("UnprocessedKeys") or {}
        return items

    def _write_each(self, operations: list[dict[str, Any]]) -> list[bool]:
        """Apply conditional writes in transactions of up to 100; return which of them held.

        A transaction fails whole when one condition fails (another dispatcher
        took that send, say). Its cancellation reasons tell which: those are
        out, and the rest go again as one transaction (a few rounds, as
        dispatchers racing over one page take sends from under each other),
        then one by one if they still do not get through together.
        """
        done: dict[int, bool] = {}
        for start in range(0, len(operations), TRANSACTION_MAX):
            left = list(range(start, min(start + TRANSACTION_MAX, len(operations))))
            for _ in range(TRANSACTION_ROUNDS):
                if not left:
                    break
                codes = self._try_transaction([operations[i] for i in left])
                if codes is None:
                    done.update((i, True) for i in left)
                    left = []
                    break
                if len(codes) != len(left) or not set(codes) <= {"None", "ConditionalCheckFailed", "TransactionConflict"}:
                    break  # no reasons, or another kind of failure: each one alone says what it is
                done.update((i, False) for i, code in zip(left, codes) if code == "ConditionalCheckFailed")
                left = [i for i, code in zip(left, codes) if code != "ConditionalCheckFailed"]
            for i in left:
                try:
                    done[i] = self._write_one(operations[i])
                except Unavailable as exc:
                    raise PartialWrite(str(exc), [done.get(j) for j in range(len(operations))]) from exc
        return [done[i] for i in range(len(operations))]

    def _try_transaction(self, chunk: list[dict[str, Any]]) -> list[str] | None:
        """Write ``chunk`` as one transaction: None if it went through, else a reason code per item."""
        from botocore.exceptions import ClientError

        try:
            self._transact(chunk)
            return None
        except ClientError as exc:
            return self._cancellation_codes(exc) or ["unknown"] * len(chunk)

    def _write_one(self, operation: dict[str, Any]) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        (kind, request), = operation.items()
        method = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}[kind]
        try:
            getattr(self.client, method)(**request)
            return True
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise Unavailable(f"storage: {exc.response.get('Error', {}).get('Code')}") from exc
            return False
        except BotoCoreError as exc:
            raise Unavailable(f"storage: {type(exc).__name__}") from exc
