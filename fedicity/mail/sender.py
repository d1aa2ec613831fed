"""Sending e-mail without holding up a request.

With FEDICITY_SMTP_HOST set, messages go through that server with aiosmtplib (an asyncio SMTP
client: STARTTLS or implicit TLS, AUTH, timeouts, on the event loop with no thread of its own).
Without it, the console mailer writes each message, link included, to the log: `make run`
needs no mail server, and whoever runs it reads the link there.

A request never waits for the mail server: `MailQueue.submit` hands the message to a task of its
own and returns. The answer to "forgot my password" is then the same, as fast, whether or not
an account has the address; and a slow or absent mail server costs the sender nothing but a line
in the log. A message whose task has not finished when the process stops is lost: its reader
asks again (a reset link is worth nothing stored anyway, see accounts/resets.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Protocol

import aiosmtplib

from fedicity.settings import Settings

_log = logging.getLogger("fedicity.mail")
DRAIN_SECONDS = 10.0


class Mailer(Protocol):
    """Something that delivers an e-mail message or raises."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver the message (its headers name sender and recipient)."""


@dataclass(frozen=True)
class SmtpMailer:
    """Delivers through an SMTP server (the instance's relay or provider)."""

    host: str
    port: int
    username: str
    password: str
    security: str
    timeout: float

    async def send(self, message: EmailMessage) -> None:
        """Connect, secure the connection as configured, log in if asked, send, quit."""
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username or None,
            password=self.password or None,
            use_tls=self.security == "ssl",
            start_tls=self.security == "starttls",
            timeout=self.timeout,
        )


@dataclass(frozen=True)
class ConsoleMailer:
    """Writes each message to the log instead (the default, for local use)."""

    async def send(self, message: EmailMessage) -> None:
        """Log the message whole, so its link can be followed."""
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        _log.warning(
            "e-mail not sent (no FEDICITY_SMTP_HOST): to %s, subject %r\n%s",
            message["To"],
            message["Subject"],
            text,
        )


def mailer_for(settings: Settings) -> Mailer:
    """SMTP when a host is configured, else the console."""
    if not settings.smtp_host:
        return ConsoleMailer()
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        security=settings.smtp_security,
        timeout=settings.smtp_timeout,
    )


def sender_address(settings: Settings) -> str:
    """FEDICITY_MAIL_FROM, or the instance's name at noreply@ its host name."""
    if settings.mail_from:
        return settings.mail_from
    hostname = settings.host.rsplit(":", 1)[0] if settings.host.count(":") == 1 else settings.host
    return formataddr((settings.instance_name, f"noreply@{hostname.strip('[]')}"))


def text_message(settings: Settings, *, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message from the instance."""
    message = EmailMessage()
    message["From"] = sender_address(settings)
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=settings.host.split(":")[0].strip("[]") or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


@dataclass
class MailQueue:
    """Sends messages on tasks of their own, so that no request waits for a mail server."""

    mailer: Mailer
    _tasks: set[asyncio.Task[bool]] = field(default_factory=set)

    def submit(self, message: EmailMessage) -> asyncio.Task[bool]:
        """Start sending; the task ends True once the server took the message, False if not."""
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, message: EmailMessage) -> bool:
        try:
            await self.mailer.send(message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # The reader sees the same page either way, and may ask again; the admin sees why.
            _log.warning("e-mail to %s not sent: %s", message["To"], error)
            return False
        return True

    async def drain(self) -> None:
        """Wait a little (DRAIN_SECONDS at most) for messages still being sent, at shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)
