"""The rate-limit settings: their defaults, read from the environment, and refused when absurd
with a one-line error naming the setting."""

from __future__ import annotations

import pytest

from fedicity.settings import SettingsError, load_settings

BASE = {"FEDICITY_SECRET_KEY": "x" * 20}
NAMES = {
    "FEDICITY_INBOX_RATE_PER_DOMAIN": ("inbox_rate_per_domain", 300),
    "FEDICITY_LOGIN_ATTEMPTS_PER_MINUTE": ("login_attempts_per_minute", 10),
    "FEDICITY_FORM_POSTS_PER_MINUTE": ("form_posts_per_minute", 60),
    "FEDICITY_POSTS_PER_TEN_MINUTES": ("posts_per_ten_minutes", 30),
    "FEDICITY_POSTS_PER_DAY": ("posts_per_day", 200),
}


@pytest.mark.parametrize("variable", sorted(NAMES))
def test_each_limit_has_its_default_is_read_and_refuses_absurd_values(variable: str) -> None:
    attribute, default = NAMES[variable]
    assert getattr(load_settings(BASE, persist_secret=False), attribute) == default
    chosen = load_settings(BASE | {variable: "7"}, persist_secret=False)
    assert getattr(chosen, attribute) == 7
    for bad in ("0", "-5", "many", "1e9", "9" * 5000, "5\x00"):
        with pytest.raises(SettingsError, match=variable) as refused:
            load_settings(BASE | {variable: bad}, persist_secret=False)
        assert "\n" not in str(refused.value)
