"""Versioned public-feed items: the latest version at or before a time, and conditional puts.
"""

from __future__ import annotations

from typing import Any

from chalicelib import times
from chalicelib.adapters.dynamodb.keys import TTL_ATTRIBUTE, N, S
from chalicelib.model.expiry import FEED_VERSION_RETENTION
from chalicelib.model.feed import FeedVersion


class FeedItems:
    # --- feeds

    @staticmethod
    def _feed_sk(feed: str, version: int) -> str:
        return f"{feed}#V#{version:012d}"

    def latest_feed_version(self, feed: str, *, after: int | None, upto: int) -> FeedVersion | None:
        low = 0 if after is None else after + 1
        if low > upto:
            return None
        reply = self._call(
            "query",
            KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
            ExpressionAttributeValues={":pk": S("FEED"), ":low": S(self._feed_sk(feed, low)),
                                       ":high": S(self._feed_sk(feed, upto))},
            ScanIndexForward=False, Limit=1,
        )
        items = reply.get("Items", [])
        if not items:
            return None
        import gzip

        item = items[0]
        return FeedVersion(
            feed=feed, version=int(item["SK"]["S"].rsplit("#", 1)[1]),
            body=gzip.decompress(item["body"]["B"]), etag=item["etag"]["S"],
            built_at=times.from_utc_iso(item["built_at"]["S"]),
        )

    def _feed_item(self, version: FeedVersion) -> dict[str, Any]:
        import gzip

        return {
            "PK": S("FEED"), "SK": S(self._feed_sk(version.feed, version.version)),
            "body": {"B": gzip.compress(version.body, compresslevel=6, mtime=0)},
            "etag": S(version.etag), "built_at": S(times.to_utc_iso(version.built_at)),
            TTL_ATTRIBUTE: N(version.version + int(FEED_VERSION_RETENTION.total_seconds())),
        }

    def put_feed_versions(self, versions: list[FeedVersion]) -> bool:
        from botocore.exceptions import ClientError

        current, *scheduled = versions
        # Scheduled versions first: a current version is never visible
        # without the ones that must follow it.
        for version in scheduled:
            self._call("put_item", Item=self._feed_item(version))
        try:
            self._call("put_item", Item=self._feed_item(current), ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if self._is_condition_failure(exc):
                return False
            raise
        return True
