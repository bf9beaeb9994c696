"""Repositories: one small interface, an in-memory fake and DynamoDB.

One table, generic keys ``PK`` and ``SK``. Key layout:

==================  =========================  ===========================  ==========================================
item                PK                         SK                           attributes
==================  =========================  ===========================  ==========================================
event               ``EVENTS``                 ``EVENT#<event_id>``         body (JSON), updated_at, seats_taken (N), seat_freed_at
staff token         ``STAFFTOKEN#<sha256>``    ``TOKEN``                    name, created_at, revoked_at, valid_until,
                                                                            last_used_at; TTL
staff member        ``STAFF#<name>``           ``STAFF``                    token_hashes (SS)
audit entry         ``AUDIT``                  ``<utc iso>#<random>``       actor, action, target, details; TTL
person              ``PERSON#<person_id>``     ``PROFILE``                  body (JSON), updated_at; TTL
mail sent           ``PERSON#<person_id>``     ``MAIL#<utc iso>#<n>#<r>``   body (JSON: kind, event_ids, sent_at,
                                                                            message_id); TTL
registration        ``EVENT#<event_id>``       ``REG#<person_id>``          body (JSON), status; TTL
confirm token       ``TOKEN#<sha256>``         ``TOKEN``                    body (JSON), used_at, done_at, valid_until; TTL
feed version        ``FEED``                   ``CALENDAR#<lang>#V#<n>``    body (B, gzip), etag, built_at; TTL
send slots          ``RATE``                   ``SES``                      slots_end (N, epoch seconds)
allowance           ``ALLOWANCE#<scope>#<h>``  ``<hour|day>#<window>``      used (N); TTL at the window's end
erasure mark        ``TICK#<tick id>``         ``ERASED``                   (set for a tick holding an erased person's
                                                                            sends; TTL)
send                ``EVENT#<event_id>``       ``SEND#<person_id>#<kind>``  body (JSON: state, due, cutoff, attempts,
                                               ``[#<detail>]``              message_id, reason, details, due_at); ``due_pk``
                                                                            and ``due_at`` while pending or claimed;
                                                                            ``claimed_by`` while claimed; TTL
==================  =========================  ===========================  ==========================================

``person_id`` is a keyed hash of the normalised address (services/subscribe.py),
so finding a person by address is one GetItem, and a key never shows the
address itself.

``<n>`` is the version number: epoch seconds, zero-padded to 12 digits so
that the sort key orders versions (see ``services/public_feed.py``).

Access patterns, each one request:

- list every event: Query ``PK = EVENTS`` (a handful of events a year;
  one partition keeps the list one Query, never a Scan).
- read one event: GetItem.
- create an event: PutItem, condition the key does not exist (409 otherwise).
- change an event: PutItem, condition ``updated_at`` is what was read
  (optimistic lock; ``seats_taken`` is kept apart so a change never clobbers
  a seat count moved meanwhile).
- check a staff token: GetItem by the token's hash.
- revoke by name: GetItem of the member, then one TransactWriteItems.
- recent audit: Query ``PK = AUDIT`` newest first with a Limit.
- a person: GetItem; their registrations: BatchGetItem of
  ``EVENT#<id>/REG#<person_id>`` for the ids their profile lists.
- an event's registrations (staff list, counts, waiting list): Query
  ``PK = EVENT#<id>``, ``SK begins_with REG#``.
- subscribe: one TransactWriteItems (profile, registrations, token); a
  registration already confirmed, waiting or interested fails the condition
  and is never downgraded.
- take or free a seat: one TransactWriteItems moving the registration's
  status (conditioned on its current status) and ``seats_taken`` on the
  event (conditioned on ``seats_taken < capacity``): two people can never
  both take the last seat. Freeing one also sets ``seat_freed_at`` on the
  event, which ``promote_waiting`` removes (UpdateItem, conditioned on the
  value it read) once the people waiting have been offered it.
- never lower an expiry (TTL): a move of a registration is also conditioned on
  its stored ``expires_at`` being no later than the one written; when it is
  later (raised by a postponement meanwhile), the transaction's cancellation
  reason returns the stored item (``ReturnValuesOnConditionCheckFailure``) and
  the move is written again with that expiry, its sends with it: no extra read.
  A profile's put is conditioned on the ``updated_at`` read, and keeps the
  later of the two expiries.
- a move worked out from the event as read (a confirm, a one-click register,
  a promotion: their expiry and reminders come from its end and start) is
  conditioned on the event's ``updated_at`` still being the one read: in the
  seat update where it takes a seat, else in a no-op update of the event in
  the same transaction. If staff changed the event meanwhile, nothing is
  written (``EventChanged``) and the caller reads the event again.
- use a confirm token: UpdateItem conditioned on not used and not expired.
- a person's confirm links that may still work (the manage page): one
  BatchGetItem of ``TOKEN#<sha256>`` for those their profile lists as made
  within the links' validity (``Person.tokens_made``).
- every single conditional write (event, profile, token use) also sets a
  random ``write_id``: when botocore retries a call whose answer was lost,
  the retry fails its condition on our own write, and one GetItem tells
  that it landed (transactions need no such help: their retries reuse the
  request token).
- record a mail a request sent (the access report): an UpdateItem raising
  the TTL of each earlier record below the profile's (read with one Query
  ``PK = PERSON#<id>``, ``SK begins_with MAIL#``; skipped when the request
  made the profile), a PutItem of the record, then a GetItem of the profile:
  gone (erased meanwhile), the record is deleted.
- erase a person: delete the profile, then each registration it lists with
  a DeleteItem conditioned on it being cancelled (the caller cancelled each
  first; one placed since is left, and reported, for the caller to cancel),
  then every token it lists
  (a profile lists each token until the token's TTL has passed), their mail
  records (one Query of the profile's partition),
  and their sends (one Query per event they registered for); before the
  sends, one PutItem of the erasure mark of each tick holding one of them.
- sends (reminders and notices, services/tick.py): planned with the registration's
  status move in the same TransactWriteItems (confirm, promotion, one-click
  register; dropped on cancellation), or in transactions of up to 100 puts
  (fan-out of a notice, rescheduling). An event's or a person's sends: Query
  ``PK = EVENT#<id>``, ``SK begins_with SEND#[<person_id>#]``.
- what is due: Query the sparse index ``due`` with ``due_pk = DUE AND due_at <= now``
  (only pending and claimed sends carry ``due_pk`` and ``due_at``). Claim:
  TransactWriteItems of up to 100 conditional puts, each conditioned on the
  ``due_at`` the dispatcher read (a claim moves ``due_at`` to the claim's lease
  end, so a second claim of the same read fails, and a settled send has none).
  Settle: TransactWriteItems of up to 100 puts. A send whose recipient the
  tick found after claiming it (a profile made before the claim; on a first
  try, while the lease holds: ``services/tick._Tick.record``) is put with no
  condition of its own; each such transaction carries one ConditionCheck
  that the tick's erasure mark (``TICK#<tick id>``) does not exist. The rest,
  and every send of a transaction that fails, are put conditioned on
  ``claimed_by``.
  Replanning (``put_sends`` with overwrite) is conditioned on no ``claimed_by``,
  so it never overwrites a claim. What a batch needs: one strongly consistent
  BatchGetItem of its profiles, its events and the registrations of sends
  claimed before (``read_for_sends``).
- confirmation-mail limits (``model/allowance.py``): an Update per count
  (``ADD used 1``, conditioned on ``used < limit``) in the subscription's own
  TransactWriteItems, all or none; the cancellation reasons say which count
  was used up (the submission is then written again without them).
  ``<h>`` is a keyed hash (a mailbox, a client's source IP) or empty (the
  whole service); the item goes by TTL when its window ends.
- keep to SES's rate across ticks: UpdateItem of ``RATE/SES`` per window of
  sends (a batch), moving ``slots_end`` on from the value last seen (or from
  now, when it lies in the past); a tick that lost the race retries from the
  value its failed condition returned. Windows of different ticks never overlap.
- poll the public feed: Query ``PK = FEED AND SK BETWEEN`` the client's
  version and now, newest first, ``Limit 1``: one read, and nothing read at
  all when the client is current (304).
- store feed versions: PutItem of each scheduled version, then PutItem of the
  current one, condition its key does not exist. Old versions go by TTL.

The table also carries a sparse global secondary index ``due`` (``due_pk``,
``due_at``) for sends that are due, and TTL on ``expires_at`` (epoch
seconds) for data that must go after its time.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from chalicelib.model.send import SlotWindow

log = logging.getLogger(__name__)

DUE_INDEX = "due"
DUE_PARTITION = "DUE"
TRANSACTION_MAX = 100
TRANSACTION_ROUNDS = 3  # a cancelled transaction's survivors are tried together this often, then alone
TTL_ATTRIBUTE = "expires_at"
ERASURE_MARK_KEEP = timedelta(days=1)  # far longer than any tick lives (its lease, 5 minutes)
SLOTS_AHEAD_MAX = 600.0  # seconds: a reserved end further ahead than this is taken as broken, not waited for
SLOTS_WINDOW_MIN = 1.0   # seconds: a window is never shorter, so a fast rate does not cost a write per send
SLOTS_TRIES = 8          # reservations tried against other ticks' before giving up for this tick
CONFLICT_TRIES = 4      # a plain write meeting a transaction on its item: tries, 25, 50, 100 ms apart
CONFLICT_PAUSE = 0.025


# ------------------------------------------------------------------ DynamoDB


def S(value: str) -> dict[str, str]:
    return {"S": value}


def N(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def _epoch_text(seconds: float) -> str:
    return f"{seconds:.6f}"


def _window_start(now: float, stored: str | None, last: SlotWindow | None, resume: float | None) -> float:
    """Where a new window starts, given the end on record (``stored``) and the caller's own last window."""
    if stored is None:
        return now
    end = float(stored)
    if end <= now or end > now + SLOTS_AHEAD_MAX:
        return now
    if last is not None and last.stored == stored:  # still the latest: its unused slots are ours to take back
        return max(now, min(resume if resume is not None else end, end))
    return end


def _window(start: float, count: int, rate: float) -> SlotWindow:
    stored = _epoch_text(math.ceil((start + max(count / rate, SLOTS_WINDOW_MIN)) * 1_000_000) / 1_000_000)
    return SlotWindow(start=start, stored=stored)
