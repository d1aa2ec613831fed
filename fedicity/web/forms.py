"""Reading HTML form fields the way browsers send them."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

# What a checkbox sends when checked (its default value is "on"), and what API clients write.
_TRUE = frozenset({"on", "true", "1", "yes"})


def checked(form: MultiDict[str, str], name: str, default: bool = False) -> bool:
    """Whether a checkbox is checked. A form may put a hidden "off" before the checkbox so that
    an unchecked box is still sent; the browser then sends both values when it is checked, and
    the last one is the box's. A field that is absent is `default`."""
    values = form.getlist(name)
    if not values:
        return default
    return values[-1].strip().lower() in _TRUE
