"""The log format: text for people (the default) or one JSON object per line for collectors.

Fields given with `extra={...}` (activity_id, domain, route, status...) are kept: as
`key=value` after a text line, as keys of the JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Every attribute a LogRecord has of its own; anything else on a record came from `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller added to this record with `extra`."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_")
    }


def _plain(value: Any) -> Any:
    """A JSON-ready value: text for anything JSON cannot say."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _text_value(value: Any) -> str:
    """A field's value as JSON, the common kinds without json.dumps (one line per request)."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return json.dumps(_plain(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the extra fields, the trace."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields_of(record).items():
            document.setdefault(key, _plain(value))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii keeps a remote server's text from breaking the line (U+2028 and the like).
        return json.dumps(document, ensure_ascii=True)


class TextFormatter(logging.Formatter):
    """The usual text line, with the extra fields after it as key=value."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The text line, then ` key=value` for each extra field."""
        line = super().format(record)
        extra = fields_of(record)
        if not extra:
            return line
        # A newline in a value would let remote text forge a log line of its own.
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in extra.items())
        head, newline, rest = line.partition("\n")
        return f"{head} {pairs}{newline}{rest}"


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Send the root logger's records to standard error in `log_format`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
