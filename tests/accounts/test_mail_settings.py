"""The mail settings: checked at start-up with a message naming the setting, and the mailer
they choose (the log without a host)."""

from __future__ import annotations

import pytest

from fedicity.mail.sender import ConsoleMailer, SmtpMailer, mailer_for, sender_address
from fedicity.settings import SettingsError, load_settings


def _load(**env: str) -> object:
    return load_settings(
        {"FEDICITY_SECRET_KEY": "a-secret-key-long-enough", **env}, persist_secret=False
    )


def test_without_a_host_messages_go_to_the_log() -> None:
    settings = load_settings({}, persist_secret=False)
    assert isinstance(mailer_for(settings), ConsoleMailer)
    assert sender_address(settings) == "Fedicity <noreply@localhost>"


def test_an_smtp_server_is_configured_whole() -> None:
    settings = load_settings(
        {
            "FEDICITY_SMTP_HOST": "smtp.example.org",
            "FEDICITY_SMTP_PORT": "465",
            "FEDICITY_SMTP_SECURITY": "SSL",
            "FEDICITY_SMTP_USERNAME": "fedicity",
            "FEDICITY_SMTP_PASSWORD": "secret",
            "FEDICITY_MAIL_FROM": "Montreuil <noreply@montreuil.example>",
        },
        persist_secret=False,
    )
    mailer = mailer_for(settings)
    assert mailer == SmtpMailer("smtp.example.org", 465, "fedicity", "secret", "ssl", 15.0)
    assert sender_address(settings) == "Montreuil <noreply@montreuil.example>"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FEDICITY_SMTP_SECURITY", "tls1.3"),
        ("FEDICITY_SMTP_PORT", "-25"),
        ("FEDICITY_SMTP_TIMEOUT", "0"),
        ("FEDICITY_MAIL_FROM", "not an address"),
        ("FEDICITY_MAIL_FROM", "a@b.example\nBcc: victim@example.org"),
    ],
)
def test_a_bad_value_names_its_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        _load(**{name: value})
