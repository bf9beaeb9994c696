"""The console's items: staff members, sign-in links, sessions.

A member is ``CONSOLE`` / ``MEMBER#<address>`` (all of them one Query); a
sign-in link ``SIGNIN#<sha256>`` / ``LINK`` and a session
``SESSION#<sha256>`` / ``SESSION``, each with a TTL. A session is read, then
its member: once the member is removed, no session of theirs works, whatever
is left of it until its TTL.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from chalicelib import times
from chalicelib.adapters.dynamodb.keys import TTL_ATTRIBUTE, N, S, _epoch
from chalicelib.errors import Conflict, Gone
from chalicelib.model.console import ConsoleSession, SignInLink, StaffMember

# Kept a while past its end, so a link opened late says "expired", not "unknown".
LINK_KEPT = timedelta(days=1)


def _iso(value: datetime) -> dict[str, str]:
    return S(times.to_utc_iso(value))


class ConsoleItems:

    @staticmethod
    def _member_key(email: str) -> dict[str, Any]:
        return {"PK": S("CONSOLE"), "SK": S(f"MEMBER#{email}")}

    @staticmethod
    def _link_key(token_hash: str) -> dict[str, Any]:
        return {"PK": S(f"SIGNIN#{token_hash}"), "SK": S("LINK")}

    @staticmethod
    def _session_key(token_hash: str) -> dict[str, Any]:
        return {"PK": S(f"SESSION#{token_hash}"), "SK": S("SESSION")}

    @staticmethod
    def _links_text(made: tuple[datetime, ...]) -> dict[str, str]:
        return S(json.dumps([times.to_utc_iso(t) for t in made]))

    @staticmethod
    def _member_from_item(item: dict[str, Any]) -> StaffMember:
        made = json.loads(item.get("links_made", {}).get("S", "[]"))
        return StaffMember(email=item["SK"]["S"].split("#", 1)[1], name=item["name"]["S"],
                           admin=item.get("admin", {}).get("BOOL", False),
                           added_at=times.from_utc_iso(item["added_at"]["S"]),
                           links_made=tuple(times.from_utc_iso(t) for t in made))

    @staticmethod
    def _link_from_item(item: dict[str, Any]) -> SignInLink:
        used = item.get("used_at", {}).get("S")
        return SignInLink(token_hash=item["PK"]["S"].split("#", 1)[1], email=item["email"]["S"],
                          created_at=times.from_utc_iso(item["created_at"]["S"]),
                          expires_at=times.from_utc_iso(item["valid_until"]["S"]),
                          used_at=times.from_utc_iso(used) if used else None)

    @staticmethod
    def _session_from_item(item: dict[str, Any]) -> ConsoleSession:
        return ConsoleSession(token_hash=item["PK"]["S"].split("#", 1)[1], email=item["email"]["S"],
                              created_at=times.from_utc_iso(item["created_at"]["S"]),
                              last_seen_at=times.from_utc_iso(item["last_seen_at"]["S"]))

    # --- staff members

    def add_staff_member(self, member: StaffMember) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("put_item", Item={
                **self._member_key(member.email), "name": S(member.name), "admin": {"BOOL": member.admin},
                "added_at": _iso(member.added_at), "links_made": self._links_text(member.links_made),
            }, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            raise Conflict(f"email: {member.email} is a staff member already") from exc

    def get_staff_member(self, email: str) -> StaffMember | None:
        item = self._call("get_item", Key=self._member_key(email), ConsistentRead=True).get("Item")
        return self._member_from_item(item) if item else None

    def list_staff_members(self) -> list[StaffMember]:
        items = self._query_all(KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
                                ExpressionAttributeValues={":pk": S("CONSOLE"), ":prefix": S("MEMBER#")},
                                ConsistentRead=True)
        return [self._member_from_item(item) for item in items]

    def remove_staff_member(self, email: str) -> bool:
        reply = self._call("delete_item", Key=self._member_key(email), ReturnValues="ALL_OLD")
        return bool(reply.get("Attributes"))

    # --- sign-in links

    def add_sign_in_link(self, link: SignInLink, *, member: StaffMember, links_made: tuple[datetime, ...]) -> None:
        from botocore.exceptions import ClientError

        try:
            self._transact([
                {"Put": {"TableName": self.table, "Item": {
                    **self._link_key(link.token_hash), "email": S(link.email), "created_at": _iso(link.created_at),
                    "valid_until": _iso(link.expires_at), TTL_ATTRIBUTE: N(_epoch(link.expires_at + LINK_KEPT)),
                }, "ConditionExpression": "attribute_not_exists(PK)"}},
                {"Update": {"TableName": self.table, "Key": self._member_key(member.email),
                            "UpdateExpression": "SET links_made = :new",
                            "ConditionExpression": "links_made = :old AND added_at = :added",
                            "ExpressionAttributeValues": {":new": self._links_text(links_made),
                                                          ":old": self._links_text(member.links_made),
                                                          ":added": _iso(member.added_at)}}},
            ])
        except ClientError as exc:
            raise Conflict("staff member: changed meanwhile; try again") from exc

    def get_sign_in_link(self, token_hash: str) -> SignInLink | None:
        item = self._call("get_item", Key=self._link_key(token_hash), ConsistentRead=True).get("Item")
        return self._link_from_item(item) if item else None

    def use_sign_in_link(self, token_hash: str, now: datetime) -> SignInLink:
        from botocore.exceptions import ClientError

        try:
            reply = self._call("update_item", Key=self._link_key(token_hash), UpdateExpression="SET used_at = :now",
                               ConditionExpression="attribute_exists(PK) AND attribute_not_exists(used_at) "
                                                   "AND valid_until > :now",
                               ExpressionAttributeValues={":now": _iso(now)}, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            raise Gone("token: this sign-in link has expired or was used already") from exc
        return self._link_from_item(reply["Attributes"])

    # --- sessions

    def add_console_session(self, session: ConsoleSession) -> None:
        self._call("put_item", Item={
            **self._session_key(session.token_hash), "email": S(session.email),
            "created_at": _iso(session.created_at), "last_seen_at": _iso(session.last_seen_at),
            TTL_ATTRIBUTE: N(_epoch(session.ends_at())),
        }, ConditionExpression="attribute_not_exists(PK)")

    def get_console_session(self, token_hash: str) -> tuple[ConsoleSession | None, StaffMember | None]:
        session_item = self._call("get_item", Key=self._session_key(token_hash), ConsistentRead=True).get("Item")
        if not session_item:
            return None, None
        session = self._session_from_item(session_item)
        return session, self.get_staff_member(session.email)

    def touch_console_session(self, session: ConsoleSession, now: datetime) -> None:
        from botocore.exceptions import ClientError

        touched = ConsoleSession(session.token_hash, session.email, session.created_at, now)
        try:
            self._call("update_item", Key=self._session_key(session.token_hash),
                       UpdateExpression="SET last_seen_at = :now, #x = :x", ConditionExpression="attribute_exists(PK)",
                       ExpressionAttributeNames={"#x": TTL_ATTRIBUTE},
                       ExpressionAttributeValues={":now": _iso(now), ":x": N(_epoch(touched.ends_at()))})
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise  # signed out meanwhile: stays gone

    def end_console_session(self, token_hash: str) -> None:
        self._call("delete_item", Key=self._session_key(token_hash))
