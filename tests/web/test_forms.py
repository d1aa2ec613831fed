"""Checkboxes are read as browsers send them (fedicity.web.forms.checked)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from fedicity.web.forms import checked


def test_the_last_value_of_a_checkbox_is_its_own() -> None:
    # A hidden "off" before the box: checked sends both, unchecked only the hidden one.
    assert checked(MultiDict([("box", "off"), ("box", "on")]), "box") is True
    assert checked(MultiDict([("box", "off")]), "box", default=True) is False
    assert checked(MultiDict([("box", "on")]), "box") is True
    assert checked(MultiDict([("box", "")]), "box", default=True) is False


def test_an_absent_box_is_its_default() -> None:
    assert checked(MultiDict(), "box") is False
    assert checked(MultiDict(), "box", default=True) is True
    assert checked(MultiDict([("other", "on")]), "box") is False


def test_api_spellings_of_true() -> None:
    for value in ("on", "true", "True", "1", "yes"):
        assert checked(MultiDict([("box", value)]), "box") is True, value
    for value in ("off", "false", "0", "no", "nonsense"):
        assert checked(MultiDict([("box", value)]), "box", default=True) is False, value
