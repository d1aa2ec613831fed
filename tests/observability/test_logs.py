"""The log format: one JSON object per line with the fields callers add, or text with them."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from fedicity.observability.logs import JsonFormatter, TextFormatter, configure_logging


@pytest.fixture
def restored_root() -> Iterator[None]:
    """Put the root logger's handlers and level back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("fedicity.workers.delivery")
    return logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, message, args, None, extra=extra
    )


def test_a_json_line_holds_time_level_logger_message_and_fields() -> None:
    record = _record(
        "delivery %s: %s",
        7,
        "retry",
        activity_id="https://ville.example/activities/1",
        domain="social.example",
        status=503,
    )
    line = JsonFormatter().format(record)
    document = json.loads(line)
    assert "\n" not in line
    assert document["level"] == "WARNING"
    assert document["logger"] == "fedicity.workers.delivery"
    assert document["message"] == "delivery 7: retry"
    assert document["time"].endswith("+00:00")
    assert document["activity_id"] == "https://ville.example/activities/1"
    assert (document["domain"], document["status"]) == ("social.example", 503)


def test_remote_text_cannot_break_a_json_line() -> None:
    hostile = 'evil"\n{"level": "CRITICAL"}\u2028\x00'
    line = JsonFormatter().format(_record("from %s", hostile, domain=hostile))
    assert "\n" not in line
    assert "\u2028" not in line
    document = json.loads(line)
    assert document["message"] == "from " + hostile
    assert document["domain"] == hostile
    assert document["level"] == "WARNING"


def test_an_exception_goes_in_its_own_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logger = logging.getLogger("x")
        record = logger.makeRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    document = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in document["exception"]


def test_text_lines_carry_the_fields_as_key_value() -> None:
    line = TextFormatter().format(_record("ok", route="/inbox", status=202, evil="a\nb"))
    assert line.endswith(' route="/inbox" status=202 evil="a\\nb"')
    assert "WARNING fedicity.workers.delivery: ok" in line
    assert "\n" not in line


def test_configure_logging_writes_json_to_standard_error(
    restored_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json")
    logging.getLogger("fedicity.test").info("hello %s", "world", extra={"route": "/x"})
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert json.loads(lines[-1])["message"] == "hello world"
    assert json.loads(lines[-1])["route"] == "/x"
    configure_logging("text")
    logging.getLogger("fedicity.test").info("plain")
    assert capsys.readouterr().err.rstrip().endswith("INFO fedicity.test: plain")
