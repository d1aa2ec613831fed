"""Reading HTML form fields the way browsers send them."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from fedicity.located.models import point_problem

# What a checkbox sends when checked (its default value is "on"), and what API clients write.
_TRUE = frozenset({"on", "true", "1", "yes"})
# The refusals of point(): the form shows them by its latitude and longitude fields.
POINT_ERRORS = frozenset({"latitude_invalid", "longitude_invalid", "coordinates_incomplete"})
# Degrees as people and the place picker write them: plain ASCII digits, a point or a French
# comma. Not what float() takes besides (nan, inf, 1e400, "٤٨", "4_8").
_DEGREES = re.compile(r"[+-]?[0-9]{1,3}(?:[.,][0-9]{1,20})?")


def checked(form: MultiDict[str, str], name: str, default: bool = False) -> bool:
    """Whether a checkbox is checked. A form may put a hidden "off" before the checkbox so that
    an unchecked box is still sent; the browser then sends both values when it is checked, and
    the last one is the box's. A field that is absent is `default`."""
    values = form.getlist(name)
    if not values:
        return default
    return values[-1].strip().lower() in _TRUE


def _degrees(form: MultiDict[str, str], name: str) -> float | str | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if not _DEGREES.fullmatch(raw):
        return f"{name}_invalid"
    return float(raw.replace(",", "."))


def point(form: MultiDict[str, str]) -> tuple[float | None, float | None] | str:
    """The form's `latitude` and `longitude` fields (both empty: None, None), or the refusal
    code of the first one that is not a place on Earth."""
    latitude, longitude = _degrees(form, "latitude"), _degrees(form, "longitude")
    if isinstance(latitude, str):
        return latitude
    if isinstance(longitude, str):
        return longitude
    return point_problem(latitude, longitude) or (latitude, longitude)


def degrees_text(value: float | None) -> str:
    """Degrees as a form field shows them: at most six decimals (11 cm), no float noise."""
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def local_path(target: str | None) -> str | None:
    """`target` when it is a path of ours to send a browser back to, else None: never an open
    redirect. Browsers drop tabs and line breaks from URLs ("/\\t/evil.example" becomes
    "//evil.example") and read a backslash as a slash, so any non-printable character or
    backslash is refused with the scheme-relative "//"."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return None
