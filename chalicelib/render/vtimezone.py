"""VTIMEZONE with RRULEs (not RDATE lists), derived from zoneinfo; see docs/decisions.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import times

# ---------------------------------------------------------------- VTIMEZONE


@dataclass(frozen=True)
class _Transition:
    utc: datetime
    offset_from: timedelta
    offset_to: timedelta
    name: str
    is_dst: bool

    @property
    def local_start(self) -> datetime:
        """The wall time at which it happens, in the offset it leaves (RFC 5545's DTSTART of an observance)."""
        return (self.utc + self.offset_from).replace(tzinfo=None)


def _transitions(zone_name: str, year: int) -> list[_Transition]:
    zone = ZoneInfo(zone_name)

    def offset(epoch: int) -> timedelta | None:
        return datetime.fromtimestamp(epoch, zone).utcoffset()

    found: list[_Transition] = []
    day = 86400
    instant = int(datetime(year, 1, 1, tzinfo=times.UTC).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=times.UTC).timestamp())
    previous = offset(instant)
    while instant < end:
        following = instant + day
        if offset(following) != previous:
            # Narrow the day down to the second the offset changes.
            low, high = instant, following
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == previous:
                    low = middle
                else:
                    high = middle
            local = datetime.fromtimestamp(high, zone)
            found.append(_Transition(datetime.fromtimestamp(high, times.UTC), previous, local.utcoffset(),
                                     local.tzname() or "", bool(local.dst())))
            previous = local.utcoffset()
        instant = following
    return found


def _byday(day: datetime) -> tuple[int, str]:
    """Return (ordinal, weekday) for RRULE's BYDAY: -1 for the last such weekday of the month."""
    weekday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[day.weekday()]
    last_day = _calendar.monthrange(day.year, day.month)[1]
    if day.day + 7 > last_day:
        return -1, weekday
    return (day.day - 1) // 7 + 1, weekday


def _rule_date(year: int, month: int, ordinal: int, weekday: str) -> int:
    index = ("MO", "TU", "WE", "TH", "FR", "SA", "SU").index(weekday)
    days = [d for d in range(1, _calendar.monthrange(year, month)[1] + 1)
            if _calendar.weekday(year, month, d) == index]
    return days[ordinal - 1] if ordinal > 0 else days[ordinal]


@lru_cache(maxsize=32)
def _yearly_rules(zone_name: str, first_year: int, last_year: int) -> tuple[_Transition, ...] | None:
    """Return one year's transitions if the same weekday rules hold in every year of the span, else None."""
    reference = _transitions(zone_name, first_year)
    for year in range(first_year, last_year + 1):
        actual = _transitions(zone_name, year)
        if len(actual) != len(reference):
            return None
        for ref, act in zip(reference, actual):
            ordinal, weekday = _byday(ref.local_start)
            expected_day = _rule_date(year, ref.local_start.month, ordinal, weekday)
            same = (act.local_start.month == ref.local_start.month and act.local_start.day == expected_day
                    and act.local_start.time() == ref.local_start.time()
                    and (act.offset_from, act.offset_to, act.name) == (ref.offset_from, ref.offset_to, ref.name))
            if not same:
                return None
    return tuple(reference)


def vtimezone(zone_name: str, first_year: int, last_year: int) -> Any:
    """Return a VTIMEZONE for ``zone_name`` valid over the years given.

    Where the zone follows yearly weekday rules (Europe/Brussels: last Sunday
    of March and of October), each observance is one RRULE, which Outlook
    reads more reliably than icalendar's long RDATE lists. A zone without
    such rules gets icalendar's own VTIMEZONE, limited to the years given.
    """
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

    span = (first_year - 1, last_year + 1)
    rules = _yearly_rules(zone_name, *span)
    if rules is None:
        from datetime import date

        return Timezone.from_tzinfo(ZoneInfo(zone_name), zone_name,
                                    first_date=date(span[0], 1, 1), last_date=date(span[1], 12, 31))
    tz = Timezone()
    tz.add("tzid", zone_name)
    if not rules:
        # No change of offset in those years: one standard observance.
        instant = datetime(first_year, 1, 1, tzinfo=times.UTC).astimezone(ZoneInfo(zone_name))
        observance = TimezoneStandard()
        observance.add("dtstart", datetime(1970, 1, 1))
        observance.add("tzoffsetfrom", instant.utcoffset())
        observance.add("tzoffsetto", instant.utcoffset())
        observance.add("tzname", instant.tzname() or zone_name)
        tz.add_component(observance)
        return tz
    for rule in rules:
        observance = TimezoneDaylight() if rule.is_dst else TimezoneStandard()
        ordinal, weekday = _byday(rule.local_start)
        # The rule is checked for the events' years only; DTSTART in 1970 is
        # what Outlook and Google themselves write.
        start = rule.local_start.replace(year=1970, day=_rule_date(1970, rule.local_start.month, ordinal, weekday))
        observance.add("dtstart", start)
        observance.add("tzoffsetfrom", rule.offset_from)
        observance.add("tzoffsetto", rule.offset_to)
        observance.add("tzname", rule.name)
        observance.add("rrule", {"freq": "YEARLY", "bymonth": rule.local_start.month, "byday": f"{ordinal}{weekday}"})
        tz.add_component(observance)
    return tz
