"""Audit events as structured JSON log lines (one object per line, with the request id)."""

import json
import logging
from datetime import datetime, timezone

logger = logging.getLogger("audit")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
            **getattr(record, "event", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def audit(event: str, **fields):
    """Log one audit event, e.g. audit("token_issued", grant="client_credentials", client=...)."""
    logger.info(event, extra={"event": {"event": event, **fields}})
