"""Dataclasses to JSON-ready records and back, for storage.

Instants are written as sortable UTC strings; sets and tuples as lists.
"""

from __future__ import annotations

import typing
from dataclasses import fields, is_dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from . import times

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


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_record(cls: type[T], record: dict[str, Any]) -> T:
    """Rebuild a ``cls`` written by ``to_record``; unknown keys are ignored."""
    hints = _hints(cls)
    kwargs = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in record:
            kwargs[f.name] = _decode(record[f.name], hints[f.name])
    return cls(**kwargs)


def _decode(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is datetime:
        return times.from_utc_iso(value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in args if a is not type(None)]
        return _decode(value, inner[0]) if inner else value
    if origin is frozenset:
        return frozenset(_decode(v, args[0]) for v in value)
    if origin is tuple:
        return tuple(_decode(v, args[0]) for v in value)
    return value
