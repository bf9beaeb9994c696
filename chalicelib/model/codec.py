"""Dataclasses to JSON-ready records and back, for storage.

Instants are written as sortable UTC strings; sets and tuples as lists.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields, is_dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, TypeVar

from chalicelib import times

T = TypeVar("T")


def to_record(obj: Any) -> dict[str, Any]:
    """Return the dataclass ``obj`` as plain JSON-ready data."""
    assert is_dataclass(obj)
    return {f.name: _encode(getattr(obj, f.name)) for f in fields(obj)}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return times.to_utc_iso(value)
    if isinstance(value, (frozenset, set)):
        return sorted(_encode(v) for v in value)
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def from_record(cls: type[T], record: dict[str, Any]) -> T:
    """Rebuild a ``cls`` written by ``to_record``; unknown keys are ignored."""
    kwargs = {}
    for name, decode in _plan(cls):
        if name in record:
            value = record[name]
            kwargs[name] = decode(value) if decode is not None and value is not None else value
    return cls(**kwargs)


@lru_cache(maxsize=None)
def _plan(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Each field of ``cls`` with what reads it back (None: as stored), worked out once per class."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _decoder(hints[f.name])) for f in fields(cls))


def _decoder(hint: Any) -> Callable[[Any], Any] | None:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is datetime:
        return times.from_utc_iso
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _decoder(inner[0]) if inner else None
    if origin in (frozenset, tuple):
        each = _decoder(args[0])
        if each is None:
            return origin
        return lambda values: origin(None if v is None else each(v) for v in values)
    return None
