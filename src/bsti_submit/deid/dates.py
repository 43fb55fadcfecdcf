"""Date arithmetic for Retain Longitudinal Temporal Information with Modified Dates."""

from __future__ import annotations

from datetime import date, timedelta

from .identifiers import parse_da


def shift(vr: str, text: str, days: int) -> str | None:
    """A DA or DT value (possibly multi-valued) moved by `days`; TM and the time part of a DT
    are kept, as a shift by whole days does not change the time of day. None when a value is
    not a full date, or the VR holds no date: the caller empties it rather than keep it."""
    if vr == "TM":
        return text
    if vr not in ("DA", "DT"):
        return None
    shifted = []
    for value in text.split("\\"):
        day = parse_da(value)
        if day is None:
            return None
        shifted.append((day + timedelta(days=days)).strftime("%Y%m%d") + value.strip()[8:])
    return "\\".join(shifted)


def age_string(birth: date, on: date) -> str | None:
    """An AS value for the age on a day: years from 1 year up, else months, else days."""
    if on < birth:
        return None
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years >= 1:
        return f"{min(years, 999):03d}Y"
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    if months >= 1:
        return f"{months:03d}M"
    return f"{(on - birth).days:03d}D"
