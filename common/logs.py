"""Log lines as JSON objects, one per line, ASCII only (python-json-logger escapes everything else).

Each line has `time` (UTC, ISO 8601), `level`, `logger`, `request_id` and `message`, then the
fields passed as `extra=` (an audit event's `event` and its details), and `exception` with the
traceback when there is one.
"""

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _LibraryFormatter

# django.request passes the request itself as an extra: RequestIdFilter reads its id, and the line
# keeps only that (the request's repr adds nothing the message doesn't say).
NOT_LOGGED = ["request"]


class JsonFormatter(_LibraryFormatter):
    def __init__(self):
        super().__init__(
            ["name", "levelname", "request_id", "message"],
            rename_fields={"name": "logger", "levelname": "level", "exc_info": "exception"},
            reserved_attrs=[*RESERVED_ATTRS, *NOT_LOGGED],
            timestamp="time",
        )

    def process_log_record(self, log_data):
        log_data["level"] = log_data["level"].lower()
        # The time first, as a reader scans for it.
        return {"time": log_data.pop("time"), **log_data}


def logging_config(level: str, loggers: dict | None = None) -> dict:
    """The LOGGING setting: every record to stderr as a JSON line carrying the request id."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "filters": {"request_id": {"()": "common.request_id.RequestIdFilter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers or {},
    }
