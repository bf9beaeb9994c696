"""The one place that reads the clock, parses and formats instants and durations.

Instants are kept as timezone-aware ``datetime`` in UTC and shown in the
event's zone. Tests pin the clock by replacing ``now``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.errors import InvalidInput

UTC = timezone.utc
DEFAULT_ZONE = "Europe/Brussels"


def now() -> datetime:
    """Return the current instant in UTC (tests replace this)."""
    return datetime.now(UTC)


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """Return the zone called ``name`` or raise InvalidInput naming ``field``.

    Only the IANA names of ``zoneinfo.available_timezones()`` count, less the
    system's aliases and variants (``localtime``, ``Factory``, ``posixrules``,
    ``posix/...``, ``right/...``: leap-second clocks, the host's own zone).
    ZoneInfo would open any of those files if the system has them.
    """
    try:
        if name == DEFAULT_ZONE:  # nearly every event's: no need to list the others (cold start)
            return ZoneInfo(name)
        if not isinstance(name, str) or not name or name not in _known_zones():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(field, "invalid_time_zone",
                           f"unknown time zone {name!r}; use an IANA name like Europe/Brussels") from exc


def stored_zone(name: str) -> ZoneInfo:
    """The zone of a stored event, for showing its times: checked when it was sent (``zone``), not again.

    An event stored before a name was refused keeps working; ZoneInfo caches
    each zone, and no list of names is read on a page request.
    """
    return ZoneInfo(name)


_EXCLUDED_ZONES = frozenset({"localtime", "Factory", "posixrules"})
_known: frozenset[str] | None = None


def _known_zones() -> frozenset[str]:
    """The zone names accepted, read once per process (about 35 ms: only when a zone is first checked)."""
    global _known
    if _known is None:
        from zoneinfo import available_timezones

        _known = frozenset(name for name in available_timezones()
                           if name not in _EXCLUDED_ZONES and not name.startswith(("posix/", "right/")))
    return _known


YEARS = (2000, 2100)  # instants outside these are typing errors, and near year 1 or 9999 they overflow


def parse_instant(value: object, field: str, tz: str = DEFAULT_ZONE) -> datetime:
    """Parse ISO 8601 into a UTC instant; a time without offset is read in ``tz``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "invalid_time", "must be a date and time in ISO 8601, like 2027-06-03T09:00:00+02:00")
    text = value.strip()
    if len(text) > 40:
        raise InvalidInput(field, "invalid_time", "must be a date and time in ISO 8601, like 2027-06-03T09:00:00+02:00")
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(field, "invalid_time",
                           f"{value!r} is not a date and time that exists (ISO 8601, like 2027-06-03T09:00:00+02:00)") from exc
    if "T" not in text.upper() and " " not in text:
        raise InvalidInput(field, "invalid_time",
                           "needs a time of day as well as a date, like 2027-06-03T09:00:00+02:00")
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise InvalidInput(field, "out_of_range", f"must be in the years {YEARS[0]} to {YEARS[1]}",
                           minimum=YEARS[0], maximum=YEARS[1])
    if parsed.tzinfo is None:
        local_zone = zone(tz)
        localized = parsed.replace(tzinfo=local_zone)
        # A wall time skipped by the spring DST change does not exist; one
        # repeated in autumn is taken at its first occurrence (fold=0).
        round_trip = localized.astimezone(UTC).astimezone(local_zone)
        if round_trip.replace(tzinfo=None) != parsed:
            raise InvalidInput(field, "invalid_time", f"{value} does not exist in {tz} (the clocks skip that hour)",
                               zone=tz)
        parsed = localized
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(field, "out_of_range", f"{value!r} is out of range") from exc


def format_instant(instant: datetime | None, tz: str = DEFAULT_ZONE) -> str | None:
    """Format a UTC instant as ISO 8601 with its offset in ``tz``."""
    if instant is None:
        return None
    return instant.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def to_utc_iso(instant: datetime) -> str:
    """Format an instant for storage: UTC, sortable, to the microsecond."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" off


def from_utc_iso(text: str) -> datetime:
    """Read an instant written by ``to_utc_iso``."""
    if len(text) == 27 and text[10] == "T" and text[19] == "." and text[26] == "Z":
        return datetime.fromisoformat(text)  # that exact shape, fifty times faster than strptime
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(value: object, field: str) -> timedelta:
    """Parse an ISO 8601 duration of weeks, days, hours, minutes and seconds (``P1D``, ``PT1H``)."""
    if not isinstance(value, str) or len(value) > 32:
        raise InvalidInput(field, "invalid_duration", "must be an ISO 8601 duration like P1D or PT1H")
    match = _DURATION.match(value.strip().upper())
    if not match:
        raise InvalidInput(field, "invalid_duration", f"{value!r} is not an ISO 8601 duration like P1D or PT1H")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    try:
        return timedelta(**parts)
    except OverflowError as exc:
        raise InvalidInput(field, "out_of_range", f"{value!r} is too long a duration") from exc


def format_duration(delta: timedelta) -> str:
    """Format a duration the way ``parse_duration`` reads it, in its simplest form."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "P"
    if days:
        text += f"{days}D"
    if hours or minutes or secs:
        text += "T"
        if hours:
            text += f"{hours}H"
        if minutes:
            text += f"{minutes}M"
        if secs:
            text += f"{secs}S"
    return text if text != "P" else "PT0S"


def format_http_date(instant: datetime) -> str:
    """Format an instant as an HTTP date (RFC 9110 IMF-fixdate), for Last-Modified."""
    from email.utils import format_datetime

    return format_datetime(instant.astimezone(UTC), usegmt=True)


def parse_http_date(value: str | None) -> datetime | None:
    """Read an HTTP date (If-Modified-Since); None when absent or malformed."""
    from email.utils import parsedate_to_datetime

    if not value or len(value) > 64:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        return None  # a date past the calendar's end is as good as malformed (RFC 9110 13.1.3: ignored)
