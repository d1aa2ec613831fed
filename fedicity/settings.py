"""One frozen, typed Settings object built from FEDICITY_* variables and an optional TOML file.

Nothing else in the project reads os.environ: everything that varies between deployments is here,
and a bad value stops start-up with a message naming the setting.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

PREFIX = "FEDICITY_"


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names it."""


# Etalab's Licence Ouverte 2.0, the French public sector's default for open data.
ETALAB_LICENCE = (
    "https://www.etalab.gouv.fr/wp-content/uploads/2017/04/ETALAB-Licence-Ouverte-v2.0.pdf"
)


@dataclass(frozen=True)
class Settings:
    """Everything that varies between deployments of an instance."""

    base_url: str = "http://localhost:8000"
    listen: str = ""
    database_url: str | None = None
    data_dir: Path = Path("data")
    secret_key: str = ""
    registration_open: bool = True
    debug: bool = False
    instance_name: str = "Fedicity"
    territory_name: str = ""
    territory_code: str = ""
    territory_level: str = "commune"
    default_locale: str = "fr"
    # The zone the pages show times in when a thing has none of its own (posts, vote deadlines,
    # the territory agenda); an event is shown in its own zone.
    timezone: str = "Europe/Paris"
    authorized_fetch: bool = False
    allow_private_addresses: bool = False
    federation_allowlist: bool = False
    # How often the worker fetches each subscribed block list again.
    blocklist_sync_minutes: int = 360
    # How often the worker fetches each followed calendar feed again (issue 13).
    import_interval_minutes: int = 60
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 5 * 1024 * 1024
    # What one account may upload in 24 hours (files it uploaded first; a file already here
    # costs nothing): bounds how fast one account can fill the media disk.
    upload_quota_bytes_per_day: int = 50 * 1024 * 1024
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks); empty
    # means the peer's own address is the client's.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    inbox_retention_days: int = 7
    inbox_pending_per_domain: int = 1000
    # Rate limits (fixed windows in PostgreSQL, shared by every process): verified deliveries
    # per signing domain per minute; login attempts per client address per minute; other HTML
    # form POSTs per account (per address when logged out) per minute; publications (posts,
    # replies, comments, events, proposals, organisations, rooms) per account.
    inbox_rate_per_domain: int = 300
    login_attempts_per_minute: int = 10
    form_posts_per_minute: int = 60
    posts_per_ten_minutes: int = 30
    posts_per_day: int = 200
    # The open-data files that cost up to a second of CPU each (agendas, events and proposals
    # CSV, map.geojson), per client address per ten minutes: far above what a calendar app or a
    # harvester asks, low enough that nobody can keep the processors busy with them.
    heavy_exports_per_ten_minutes: int = 60
    # Key fetches run inside inbox requests: their own connections, a short deadline, and a cap
    # per host, so a peer whose keys never come cannot hold up the keys of everyone else.
    key_fetch_timeout: float = 5.0
    key_fetch_connections: int = 50
    key_fetches_per_host: int = 4
    # Deliveries: POSTs in flight in one worker, and at most this many to one remote host.
    delivery_concurrency: int = 64
    delivery_per_host: int = 4
    # Mail (forgotten passwords). Without a host, messages are written to the log instead, so
    # a local instance needs no mail server. security: starttls (port 587), ssl (implicit TLS,
    # port 465) or none (a relay on the same machine only).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: str = "starttls"
    smtp_timeout: float = 15.0
    mail_from: str = ""
    # text (for people) or json (one object per line, for log collectors).
    log_format: str = "text"
    # /metrics asks for this bearer token; without one it answers loopback peers only.
    metrics_token: str = ""
    # `fedicity worker` serves its own /metrics on 127.0.0.1 at this port (none when unset).
    worker_metrics_port: int | None = None
    # The ASGI server of `run` and `web`: uvicorn (uvloop + httptools, the fastest measured
    # here) or hypercorn. `run` keeps its worker in a child process, or inline in one process.
    server: str = "uvicorn"
    run_worker: str = "process"
    # The licence the open-data catalogue gives every dataset (an http(s) URL).
    open_data_licence: str = ETALAB_LICENCE
    # Open reports from distinct local accounts that open a co-moderation vote on a public
    # object located in a territory (stewardship/comoderation.py); 0 turns co-moderation off.
    comoderation_reports: int = 3

    @property
    def host(self) -> str:
        """The authority used in handles and ids: host, plus the port when it is not the default."""
        return urlsplit(self.base_url).netloc

    @property
    def scheme(self) -> str:
        """http or https, as in the base URL."""
        return urlsplit(self.base_url).scheme

    @property
    def listen_host(self) -> str:
        """The address the web server binds."""
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        """The port the web server binds."""
        return int(self.listen.rpartition(":")[2])


def _parse_bool(name: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{PREFIX}{name.upper()}: expected true or false, got {raw!r}")


def _parse_int(name: str, raw: object) -> int:
    try:
        value = int(str(raw))
    except ValueError:
        raise SettingsError(
            f"{PREFIX}{name.upper()}: expected a whole number, got {raw!r}"
        ) from None
    if value <= 0:
        raise SettingsError(f"{PREFIX}{name.upper()}: must be positive, got {value}")
    return value


def _parse_count(name: str, raw: object) -> int:
    """A whole number from 0 (off) to 1000."""
    try:
        value = int(str(raw))
    except ValueError:
        raise SettingsError(
            f"{PREFIX}{name.upper()}: expected a whole number, got {raw!r}"
        ) from None
    if not 0 <= value <= 1000:
        raise SettingsError(f"{PREFIX}{name.upper()}: 0 (off) to 1000, got {value}")
    return value


def _parse_networks(name: str, raw: object) -> tuple[IPv4Network | IPv6Network, ...]:
    items = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
    networks = []
    for item in items:
        try:
            networks.append(ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise SettingsError(
                f"{PREFIX}{name.upper()}: expected IP addresses or networks such as "
                f"127.0.0.1, 10.0.0.0/8 or ::1, separated by commas; got {item!r}"
            ) from None
    return tuple(networks)


def _parse_seconds(name: str, raw: object) -> float:
    try:
        value = float(str(raw))
    except ValueError:
        raise SettingsError(
            f"{PREFIX}{name.upper()}: expected a number of seconds, got {raw!r}"
        ) from None
    if not 0 < value <= 600:
        raise SettingsError(
            f"{PREFIX}{name.upper()}: must be more than 0 and at most 600 seconds, got {raw!r}"
        )
    return value


def _check_licence(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or len(value) > 2048:
        raise SettingsError(
            f"{PREFIX}OPEN_DATA_LICENCE: expected the licence's http:// or https:// URL, "
            f"got {value[:100]!r}"
        )
    return value


def _check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(
            f"{PREFIX}BASE_URL: expected an http:// or https:// URL such as "
            f"https://ville.example, got {value!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise SettingsError(f"{PREFIX}BASE_URL: must not contain a user name or password")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise SettingsError(
            f"{PREFIX}BASE_URL: must be the root of a host, with no path, query or fragment; "
            f"got {value!r}"
        )
    try:
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError:
        raise SettingsError(f"{PREFIX}BASE_URL: malformed port in {value!r}") from None
    netloc = parts.netloc.lower()
    if parts.port in (None, 443 if parts.scheme == "https" else 80):
        # An explicit default port (or a bare colon) would end up in every id and handle.
        netloc = re.sub(r":\d*$", "", netloc)
    return f"{parts.scheme}://{netloc}"


def _default_listen(base_url: str) -> str:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _check_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(
            f"{PREFIX}LISTEN: expected HOST:PORT such as 0.0.0.0:8000, got {value!r}"
        )
    return value


def _check_database_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if urlsplit(value).scheme not in {"postgres", "postgresql"}:
        raise SettingsError(
            f"{PREFIX}DATABASE_URL: expected a postgresql:// URL, got scheme "
            f"{urlsplit(value).scheme!r}"
        )
    return value


SERVABLE_LEVELS = ("region", "departement", "epci", "commune")


def _check_territory_level(value: str) -> str:
    if value not in SERVABLE_LEVELS:
        raise SettingsError(
            f"{PREFIX}TERRITORY_LEVEL: expected one of {', '.join(SERVABLE_LEVELS)}, got {value!r}"
        )
    return value


def _check_locale(value: str) -> str:
    if value not in {"fr", "en"}:
        raise SettingsError(f"{PREFIX}DEFAULT_LOCALE: expected fr or en, got {value!r}")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    # A missing zone is a KeyError (ZoneInfoNotFoundError); a malformed key a ValueError or an
    # OSError (a path past the zone folder, a name too long for the file system).
    except (KeyError, ValueError, OSError):
        raise SettingsError(
            f"{PREFIX}TIMEZONE: expected an IANA time zone such as Europe/Paris or "
            f"Indian/Reunion, got {value!r}"
        ) from None
    return value


def _secret_key_for(data_dir: Path) -> str:
    """Read the instance's secret key from its data dir, creating it on first start."""
    path = data_dir / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if len(key) < 16:
            # Empty when another process is still writing it, or when it was truncated.
            raise SettingsError(
                f"{PREFIX}SECRET_KEY: {path} holds no usable key (under 16 characters); "
                "delete it to have a new one made"
            )
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


SMTP_SECURITY = ("starttls", "ssl", "none")
SERVERS = ("uvicorn", "hypercorn")
RUN_WORKERS = ("process", "inline")
LOG_FORMATS = ("text", "json")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")


def _parse_log_format(name: str, raw: object) -> str:
    text = str(raw).strip().lower()
    if text not in LOG_FORMATS:
        raise SettingsError(
            f"{PREFIX}{name.upper()}: expected one of {', '.join(LOG_FORMATS)}, got {raw!r}"
        )
    return text


def _parse_token(name: str, raw: object) -> str:
    text = str(raw).strip()
    # What an Authorization: Bearer header can carry (RFC 6750's b64token), and long enough
    # not to be guessed.
    if not _TOKEN.fullmatch(text):
        raise SettingsError(
            f"{PREFIX}{name.upper()}: expected 16 to 256 letters, digits or ._~+/=- "
            "(make one with `openssl rand -hex 32`)"
        )
    return text


def _parse_port(name: str, raw: object) -> int:
    port = _parse_int(name, raw)
    if port > 65535:
        raise SettingsError(f"{PREFIX}{name.upper()}: expected a port from 1 to 65535, got {port}")
    return port


def _choice(options: tuple[str, ...]) -> Callable[[str, object], str]:
    def parse(name: str, raw: object) -> str:
        text = str(raw).strip().lower()
        if text not in options:
            raise SettingsError(
                f"{PREFIX}{name.upper()}: expected one of {', '.join(options)}, got {raw!r}"
            )
        return text

    return parse


_MAILBOX = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def _parse_smtp_security(name: str, raw: object) -> str:
    text = str(raw).strip().lower()
    if text not in SMTP_SECURITY:
        raise SettingsError(
            f"{PREFIX}{name.upper()}: expected one of {', '.join(SMTP_SECURITY)}, got {raw!r}"
        )
    return text


def _parse_mail_from(name: str, raw: object) -> str:
    text = str(raw).strip()
    address = text.rsplit("<", 1)[-1].rstrip(">").strip() if "<" in text else text
    if not _MAILBOX.match(address) or "\n" in text or "\r" in text:
        raise SettingsError(
            f"{PREFIX}{name.upper()}: expected an address such as noreply@example.org or "
            f"'Fedicity <noreply@example.org>', got {raw!r}"
        )
    return text


_CONVERTERS: dict[str, Callable[[str, object], Any]] = {
    "registration_open": _parse_bool,
    "debug": _parse_bool,
    "authorized_fetch": _parse_bool,
    "allow_private_addresses": _parse_bool,
    "federation_allowlist": _parse_bool,
    "blocklist_sync_minutes": _parse_int,
    "import_interval_minutes": _parse_int,
    "max_body_bytes": _parse_int,
    "max_upload_bytes": _parse_int,
    "upload_quota_bytes_per_day": _parse_int,
    "trusted_proxies": _parse_networks,
    "inbox_retention_days": _parse_int,
    "inbox_pending_per_domain": _parse_int,
    "inbox_rate_per_domain": _parse_int,
    "login_attempts_per_minute": _parse_int,
    "form_posts_per_minute": _parse_int,
    "posts_per_ten_minutes": _parse_int,
    "posts_per_day": _parse_int,
    "heavy_exports_per_ten_minutes": _parse_int,
    "key_fetch_timeout": _parse_seconds,
    "key_fetch_connections": _parse_int,
    "key_fetches_per_host": _parse_int,
    "delivery_concurrency": _parse_int,
    "delivery_per_host": _parse_int,
    "smtp_port": _parse_int,
    "smtp_security": _parse_smtp_security,
    "smtp_timeout": _parse_seconds,
    "mail_from": _parse_mail_from,
    "log_format": _parse_log_format,
    "metrics_token": _parse_token,
    "worker_metrics_port": _parse_port,
    "server": _choice(SERVERS),
    "run_worker": _choice(RUN_WORKERS),
    "comoderation_reports": _parse_count,
}

# An upload is held in memory while its header is read and its hash taken: keep it modest.
MAX_UPLOAD_CEILING = 100 * 1024 * 1024
# Processed inbox rows are the duplicate check: they must outlive a peer's retries of the same
# activity (Mastodon's last retry comes about 2-3 days after the first try).
MIN_INBOX_RETENTION_DAYS = 3


def load_settings(
    environ: Mapping[str, str] | None = None, *, persist_secret: bool = True
) -> Settings:
    """Build Settings from the environment (and FEDICITY_CONFIG's TOML file, which it overrides)."""
    env = dict(os.environ if environ is None else environ)
    values = _converted(_raw_settings(env))
    base_url = _check_base_url(str(values.get("base_url", Settings.base_url)))
    values["base_url"] = base_url
    values["listen"] = _check_listen(str(values.get("listen") or _default_listen(base_url)))
    database_url = values.get("database_url")
    values["database_url"] = _check_database_url(
        None if database_url is None else str(database_url)
    )
    values["default_locale"] = _check_locale(str(values.get("default_locale", "fr")))
    values["timezone"] = _check_timezone(str(values.get("timezone", Settings.timezone)))
    values["territory_level"] = _check_territory_level(
        str(values.get("territory_level", Settings.territory_level))
    )
    data_dir = Path(str(values.get("data_dir", Settings.data_dir))).expanduser()
    values["data_dir"] = data_dir
    values["secret_key"] = _secret_key(str(values.get("secret_key", "")), data_dir, persist_secret)
    if "open_data_licence" in values:
        values["open_data_licence"] = _check_licence(str(values["open_data_licence"]))
    _check_bounds(values)
    return Settings(**values)


def _raw_settings(env: Mapping[str, str]) -> dict[str, object]:
    """The settings as written: FEDICITY_CONFIG's file, each FEDICITY_* variable overriding it."""
    raw: dict[str, object] = {}
    config_path = env.get(f"{PREFIX}CONFIG")
    if config_path:
        raw.update(_read_config_file(config_path))
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(f"{PREFIX}CONFIG: unknown setting(s) {', '.join(unknown)}")
    for name in known:
        from_env = env.get(PREFIX + name.upper())
        # An empty variable means "not set" (FEDICITY_X= in a unit file), not false or zero.
        if from_env is not None and from_env.strip() != "":
            raw[name] = from_env
    return raw


def _read_config_file(config_path: str) -> dict[str, object]:
    """The TOML file FEDICITY_CONFIG names."""
    try:
        with open(config_path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"{PREFIX}CONFIG: cannot read {config_path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{PREFIX}CONFIG: {config_path} is not valid TOML: {exc}") from None


def _converted(raw: Mapping[str, object]) -> dict[str, Any]:
    """Each value converted to its setting's type; text settings must be text."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        convert = _CONVERTERS.get(name)
        values[name] = convert(name, value) if convert else value
    for name in (
        "base_url",
        "listen",
        "secret_key",
        "instance_name",
        "territory_name",
        "open_data_licence",
        "smtp_host",
        "smtp_username",
        "smtp_password",
    ):
        if name in values and not isinstance(values[name], str):
            raise SettingsError(f"{PREFIX}{name.upper()}: expected text, got {values[name]!r}")
    return values


def _secret_key(secret: str, data_dir: Path, persist_secret: bool) -> str:
    """The configured secret key, checked, or one generated (and kept in data_dir if asked)."""
    if not secret:
        return _secret_key_for(data_dir) if persist_secret else secrets.token_urlsafe(48)
    if len(secret) < 16:
        raise SettingsError(f"{PREFIX}SECRET_KEY: too short; use at least 16 random characters")
    return secret


def _check_bounds(values: Mapping[str, Any]) -> None:
    """Refuse an upload cap above the ceiling and an inbox retention below the floor."""
    if values.get("max_upload_bytes", Settings.max_upload_bytes) > MAX_UPLOAD_CEILING:
        raise SettingsError(
            f"{PREFIX}MAX_UPLOAD_BYTES: at most {MAX_UPLOAD_CEILING} bytes (100 MiB), "
            f"got {values['max_upload_bytes']}"
        )
    retention = values.get("inbox_retention_days", Settings.inbox_retention_days)
    if retention < MIN_INBOX_RETENTION_DAYS:
        raise SettingsError(
            f"{PREFIX}INBOX_RETENTION_DAYS: at least {MIN_INBOX_RETENTION_DAYS} days, so that "
            f"peers' retries are still recognised as duplicates; got {retention}"
        )
