"""load_settings(): defaults, validation of FEDICITY_* values, the TOML file, the secret key."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from fedicity.settings import Settings, SettingsError, load_settings


def _load(**env: str) -> Settings:
    """Settings from exactly these FEDICITY_* variables, without writing a secret key file."""
    return load_settings({f"FEDICITY_{k.upper()}": v for k, v in env.items()}, persist_secret=False)


# --- defaults --------------------------------------------------------------------------------


def test_defaults_describe_a_local_development_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an empty environment, in an empty working directory
    monkeypatch.chdir(tmp_path)
    # When settings are loaded without persisting the secret
    settings = load_settings({}, persist_secret=False)
    # Then every value is the documented default
    assert settings.base_url == "http://localhost:8000"
    assert settings.listen == "localhost:8000"
    assert settings.database_url is None
    assert settings.data_dir == Path("data")
    assert settings.registration_open is True
    assert settings.debug is False
    assert settings.authorized_fetch is False
    assert settings.allow_private_addresses is False
    assert settings.instance_name == "Fedicity"
    assert settings.territory_name == ""
    assert settings.territory_code == ""
    assert settings.default_locale == "fr"
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.host == "localhost:8000"
    assert settings.scheme == "http"
    # And a usable secret was made up for this run only, with nothing written to disk
    assert len(settings.secret_key) >= 16
    assert list(tmp_path.iterdir()) == []


def test_unpersisted_secrets_differ_between_loads() -> None:
    assert _load().secret_key != _load().secret_key


def test_explicit_environ_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the process environment asks for debug and another base URL
    monkeypatch.setenv("FEDICITY_DEBUG", "true")
    monkeypatch.setenv("FEDICITY_BASE_URL", "https://elsewhere.example")
    # When settings are loaded from an explicit, empty mapping
    settings = load_settings({}, persist_secret=False)
    # Then the process environment played no part
    assert settings.debug is False
    assert settings.base_url == "http://localhost:8000"


def test_without_environ_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a process environment with only FEDICITY_BASE_URL among our variables
    for name in list(os.environ):
        if name.startswith("FEDICITY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FEDICITY_BASE_URL", "https://from-env.example")
    # When settings are loaded without an explicit mapping
    settings = load_settings(persist_secret=False)
    # Then the process environment was read
    assert settings.base_url == "https://from-env.example"


def test_text_settings_are_taken_verbatim() -> None:
    settings = _load(
        instance_name="Montreuil en commun",
        territory_name="Montreuil",
        territory_code="93048",
        default_locale="en",
        data_dir="/srv/fedicity",
    )
    assert settings.instance_name == "Montreuil en commun"
    assert settings.territory_name == "Montreuil"
    assert settings.territory_code == "93048"
    assert settings.default_locale == "en"
    assert settings.data_dir == Path("/srv/fedicity")


def test_data_dir_expands_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/maire")
    assert _load(data_dir="~/fedicity").data_dir == Path("/home/maire/fedicity")


def test_unknown_default_locale_is_refused() -> None:
    with pytest.raises(SettingsError, match="FEDICITY_DEFAULT_LOCALE"):
        _load(default_locale="de")


# --- FEDICITY_BASE_URL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "base_url", "host"),
    [
        ("https://ville.example", "https://ville.example", "ville.example"),
        ("https://ville.example/", "https://ville.example", "ville.example"),
        ("https://Ville.EXAMPLE", "https://ville.example", "ville.example"),
        ("http://localhost:8000", "http://localhost:8000", "localhost:8000"),
        ("https://ville.example:8443", "https://ville.example:8443", "ville.example:8443"),
        # A default port would otherwise end up in every actor id and handle.
        ("https://ville.example:443", "https://ville.example", "ville.example"),
        ("http://ville.example:80/", "http://ville.example", "ville.example"),
        ("http://[::1]:8000", "http://[::1]:8000", "[::1]:8000"),
    ],
)
def test_base_url_is_normalised_to_scheme_and_authority(raw: str, base_url: str, host: str) -> None:
    settings = _load(base_url=raw)
    assert settings.base_url == base_url
    assert settings.host == host


def test_https_base_url_reports_its_scheme() -> None:
    assert _load(base_url="https://ville.example").scheme == "https"


@pytest.mark.parametrize(
    "raw",
    [
        "https://ville.example/fedicity",
        "https://ville.example/fedicity/",
        "https://ville.example/?lang=fr",
        "https://ville.example/#top",
        "ftp://ville.example",
        "ville.example",
        "//ville.example",
        "https://",
        "https://user:secret@ville.example",
        "https://ville.example:port",
        "https://ville.example:99999",
        "https://ville.example:-1",
    ],
)
def test_unusable_base_url_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="FEDICITY_BASE_URL"):
        _load(base_url=raw)


def test_base_url_error_quotes_the_bad_value() -> None:
    with pytest.raises(SettingsError, match=r"ftp://ville\.example"):
        _load(base_url="ftp://ville.example")


# --- FEDICITY_LISTEN -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "listen", "listen_host", "listen_port"),
    [
        ("http://localhost:8000", "localhost:8000", "localhost", 8000),
        ("https://x.example", "x.example:443", "x.example", 443),
        ("http://x.example", "x.example:80", "x.example", 80),
        ("https://x.example:8443", "x.example:8443", "x.example", 8443),
    ],
)
def test_listen_defaults_to_the_base_url_host_and_port(
    base_url: str, listen: str, listen_host: str, listen_port: int
) -> None:
    settings = _load(base_url=base_url)
    assert settings.listen == listen
    assert settings.listen_host == listen_host
    assert settings.listen_port == listen_port


@pytest.mark.parametrize(
    ("listen", "listen_host", "listen_port"),
    [
        ("0.0.0.0:9000", "0.0.0.0", 9000),  # noqa: S104
        ("127.0.0.1:1", "127.0.0.1", 1),
        ("[::]:65535", "::", 65535),
        ("web.internal:8080", "web.internal", 8080),
    ],
)
def test_listen_override_wins_over_the_base_url(
    listen: str, listen_host: str, listen_port: int
) -> None:
    settings = _load(base_url="https://x.example", listen=listen)
    assert settings.listen == listen
    assert settings.listen_host == listen_host
    assert settings.listen_port == listen_port


def test_empty_listen_falls_back_to_the_base_url() -> None:
    assert _load(base_url="https://x.example", listen="").listen == "x.example:443"


@pytest.mark.parametrize(
    "listen",
    ["8000", "localhost", "localhost:", ":8000", "localhost:0", "localhost:65536", "host:http"],
)
def test_malformed_listen_is_refused_naming_the_variable(listen: str) -> None:
    with pytest.raises(SettingsError, match="FEDICITY_LISTEN"):
        _load(listen=listen)


# --- booleans and numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        (" Yes ", True),
        ("on", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
@pytest.mark.parametrize(
    "name", ["registration_open", "debug", "authorized_fetch", "allow_private_addresses"]
)
def test_boolean_settings_accept_the_usual_spellings(name: str, raw: str, expected: bool) -> None:
    settings = _load(**{name: raw})
    assert getattr(settings, name) is expected


@pytest.mark.parametrize(
    "name", ["registration_open", "debug", "authorized_fetch", "allow_private_addresses"]
)
def test_invalid_boolean_is_refused_naming_the_variable(name: str) -> None:
    with pytest.raises(SettingsError, match=f"FEDICITY_{name.upper()}.*'maybe'"):
        _load(**{name: "maybe"})


def test_closing_registration_by_environment() -> None:
    # registration_open defaults to True, so an explicit "false" must really turn it off
    assert _load(registration_open="false").registration_open is False


def test_max_body_bytes_is_read_as_a_number() -> None:
    assert _load(max_body_bytes="2048").max_body_bytes == 2048


def test_empty_variables_mean_unset() -> None:
    # FEDICITY_X= in a unit file or .env leaves the default, it does not mean false or zero.
    settings = _load(registration_open="", max_body_bytes=" ", base_url="")
    assert settings.registration_open is True
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.base_url == "http://localhost:8000"


@pytest.mark.parametrize("raw", ["0", "-5", "lots", "1.5"])
def test_invalid_max_body_bytes_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="FEDICITY_MAX_BODY_BYTES"):
        _load(max_body_bytes=raw)


def test_max_upload_bytes_defaults_to_five_mebibytes_and_is_read_as_a_number() -> None:
    assert _load().max_upload_bytes == 5 * 1024 * 1024
    assert _load(max_upload_bytes="1048576").max_upload_bytes == 1024 * 1024


@pytest.mark.parametrize("raw", ["0", "-5", "lots", "1.5", str(101 * 1024 * 1024)])
def test_invalid_max_upload_bytes_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="FEDICITY_MAX_UPLOAD_BYTES"):
        _load(max_upload_bytes=raw)


# --- FEDICITY_DATABASE_URL -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://fedicity:secret@db.internal:5432/fedicity",
        "postgres://fedicity@db.internal/fedicity",
        "postgresql://postgres:@/fedicity?host=/tmp/pg",
    ],
)
def test_postgresql_database_url_is_kept(url: str) -> None:
    assert _load(database_url=url).database_url == url


def test_empty_database_url_means_the_embedded_server() -> None:
    assert _load(database_url="").database_url is None


@pytest.mark.parametrize(
    "url", ["mysql://db.internal/fedicity", "sqlite:///fedicity.db", "db.internal/fedicity"]
)
def test_non_postgresql_database_url_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(SettingsError, match="FEDICITY_DATABASE_URL"):
        _load(database_url=url)


# --- FEDICITY_CONFIG (TOML) ------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "fedicity.toml"
    path.write_text(text)
    return str(path)


def test_config_file_values_are_read(tmp_path: Path) -> None:
    # Given a TOML file with values of every type
    path = _config(
        tmp_path,
        """
        base_url = "https://ville.example"
        listen = "0.0.0.0:8080"
        instance_name = "Ville en commun"
        registration_open = false
        debug = "yes"
        max_body_bytes = 4096
        database_url = "postgresql://db.internal/fedicity"
        data_dir = "/var/lib/fedicity"
        secret_key = "a-secret-key-from-the-config-file"
        """,
    )
    # When settings are loaded with FEDICITY_CONFIG pointing at it
    settings = load_settings({"FEDICITY_CONFIG": path}, persist_secret=False)
    # Then the file's values are used, converted to their types
    assert settings.base_url == "https://ville.example"
    assert settings.listen == "0.0.0.0:8080"
    assert settings.instance_name == "Ville en commun"
    assert settings.registration_open is False
    assert settings.debug is True
    assert settings.max_body_bytes == 4096
    assert settings.database_url == "postgresql://db.internal/fedicity"
    assert settings.data_dir == Path("/var/lib/fedicity")
    assert settings.secret_key == "a-secret-key-from-the-config-file"


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    # Given a file and environment variables that disagree
    path = _config(
        tmp_path,
        'base_url = "https://file.example"\ninstance_name = "From file"\ndebug = true\n',
    )
    environ = {
        "FEDICITY_CONFIG": path,
        "FEDICITY_BASE_URL": "https://env.example",
        "FEDICITY_DEBUG": "false",
    }
    # When settings are loaded
    settings = load_settings(environ, persist_secret=False)
    # Then the environment wins, and the file still supplies what the environment lacks
    assert settings.base_url == "https://env.example"
    assert settings.debug is False
    assert settings.instance_name == "From file"


def test_config_file_values_are_validated_like_the_environment(tmp_path: Path) -> None:
    path = _config(tmp_path, 'base_url = "https://ville.example/sub"\n')
    with pytest.raises(SettingsError, match="FEDICITY_BASE_URL"):
        load_settings({"FEDICITY_CONFIG": path}, persist_secret=False)


def test_config_file_text_setting_of_another_type_is_refused(tmp_path: Path) -> None:
    path = _config(tmp_path, "instance_name = 42\n")
    with pytest.raises(SettingsError, match="FEDICITY_INSTANCE_NAME"):
        load_settings({"FEDICITY_CONFIG": path}, persist_secret=False)


def test_config_file_invalid_boolean_is_refused(tmp_path: Path) -> None:
    path = _config(tmp_path, 'registration_open = "perhaps"\n')
    with pytest.raises(SettingsError, match="FEDICITY_REGISTRATION_OPEN"):
        load_settings({"FEDICITY_CONFIG": path}, persist_secret=False)


def test_config_file_unknown_key_is_refused(tmp_path: Path) -> None:
    path = _config(tmp_path, 'base_url = "https://ville.example"\nbase_ulr = "typo"\n')
    with pytest.raises(SettingsError, match=r"FEDICITY_CONFIG.*base_ulr"):
        load_settings({"FEDICITY_CONFIG": path}, persist_secret=False)


def test_invalid_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, "base_url = https://unquoted.example\n")
    with pytest.raises(SettingsError, match=r"FEDICITY_CONFIG.*not valid TOML") as raised:
        load_settings({"FEDICITY_CONFIG": path}, persist_secret=False)
    assert path in str(raised.value)


def test_missing_config_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.toml")
    with pytest.raises(SettingsError, match=r"FEDICITY_CONFIG.*cannot read") as raised:
        load_settings({"FEDICITY_CONFIG": missing}, persist_secret=False)
    assert missing in str(raised.value)


def test_empty_config_variable_reads_no_file() -> None:
    settings = load_settings({"FEDICITY_CONFIG": ""}, persist_secret=False)
    assert settings.base_url == "http://localhost:8000"


# --- the secret key --------------------------------------------------------------------------


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    # Given a data dir that does not exist yet
    data_dir = tmp_path / "data"
    environ = {"FEDICITY_DATA_DIR": str(data_dir)}
    # When settings are loaded for the first time
    first = load_settings(environ)
    # Then a long random key was written to data_dir/secret_key, readable by the owner only
    key_file = data_dir / "secret_key"
    assert key_file.read_text().strip() == first.secret_key
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # And later loads reuse it
    second = load_settings(environ)
    assert second.secret_key == first.secret_key


def test_existing_secret_key_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("an-existing-secret-key-of-the-instance\n")
    settings = load_settings({"FEDICITY_DATA_DIR": str(tmp_path)})
    assert settings.secret_key == "an-existing-secret-key-of-the-instance"


@pytest.mark.parametrize("content", ["", "\n", "short\n"])
def test_unusable_secret_key_file_is_refused(tmp_path: Path, content: str) -> None:
    # Given a key file that is empty (a half-written file) or too short
    (tmp_path / "secret_key").write_text(content)
    # When settings are loaded, then they refuse rather than sign sessions with a weak key
    with pytest.raises(SettingsError, match="FEDICITY_SECRET_KEY"):
        load_settings({"FEDICITY_DATA_DIR": str(tmp_path)})


def test_explicit_secret_key_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = load_settings(
        {"FEDICITY_DATA_DIR": str(tmp_path), "FEDICITY_SECRET_KEY": "0123456789abcdef"}
    )
    assert settings.secret_key == "0123456789abcdef"
    assert not (tmp_path / "secret_key").exists()


def test_too_short_secret_key_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="FEDICITY_SECRET_KEY"):
        _load(secret_key="0123456789abcde")


def test_unpersisted_secret_writes_no_file(tmp_path: Path) -> None:
    settings = load_settings({"FEDICITY_DATA_DIR": str(tmp_path / "data")}, persist_secret=False)
    assert len(settings.secret_key) >= 16
    assert not (tmp_path / "data").exists()


# --- immutability ----------------------------------------------------------------------------


def test_settings_are_frozen() -> None:
    settings = _load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.debug = True  # type: ignore[misc]
    assert settings.debug is False


def test_the_time_zone_is_an_iana_zone() -> None:
    assert load_settings({}, persist_secret=False).timezone == "Europe/Paris"
    chosen = load_settings({"FEDICITY_TIMEZONE": "Indian/Reunion"}, persist_secret=False)
    assert chosen.timezone == "Indian/Reunion"
    for bad in ("Nowhere/Land", "../../etc/passwd", "x" * 300):
        with pytest.raises(SettingsError, match="FEDICITY_TIMEZONE"):
            load_settings({"FEDICITY_TIMEZONE": bad}, persist_secret=False)


def test_operations_settings_are_read() -> None:
    settings = load_settings(
        {
            "FEDICITY_LOG_FORMAT": "JSON",
            "FEDICITY_METRICS_TOKEN": "0123456789abcdef0123",
            "FEDICITY_WORKER_METRICS_PORT": "9101",
        },
        persist_secret=False,
    )
    assert (settings.log_format, settings.metrics_token, settings.worker_metrics_port) == (
        "json",
        "0123456789abcdef0123",
        9101,
    )
    defaults = load_settings({}, persist_secret=False)
    assert (defaults.log_format, defaults.metrics_token, defaults.worker_metrics_port) == (
        "text",
        "",
        None,
    )


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("LOG_FORMAT", "xml"),
        ("METRICS_TOKEN", "short"),
        ("METRICS_TOKEN", "has a space in it, sixteen+"),
        ("METRICS_TOKEN", "line\nbreak-0123456789"),
        ("METRICS_TOKEN", "x" * 257),
        ("WORKER_METRICS_PORT", "0"),
        ("WORKER_METRICS_PORT", "65536"),
        ("WORKER_METRICS_PORT", "http"),
    ],
)
def test_bad_operations_settings_are_refused_by_name(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=f"FEDICITY_{name}"):
        load_settings({f"FEDICITY_{name}": raw}, persist_secret=False)
