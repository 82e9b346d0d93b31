"""Django's PostgreSQL backend, with a health check that costs no round trip to Postgres, and every
statement timed into django-prometheus's `django_db_query_duration_seconds`.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` before the first query of each request on a reused
connection: one more round trip per request (docs/performance.md, "Token endpoint hot path"). But a
connection that Postgres ended while it sat idle (a restart, pg_terminate_backend, a timeout) has
been told so already: the server's last message and the end of the stream wait in its socket. On an
idle connection of these services nothing else ever arrives (they LISTEN to nothing), so a socket with
anything to read is treated as dead, and Django opens a new connection.

django-prometheus's PostgreSQL backend (extended here: it also counts new connections and their
failures) wraps each cursor to update three series per statement, looking each one's labels up
every time; on the token endpoint's hot path that was 1.7 % of a request's instructions. The
cursors here update only the histogram the contract reads, through its series for this alias,
looked up once per connection.
"""

import select
import time

from django.conf import settings
from django.db.backends.postgresql import base as django_base
from django_prometheus.db import query_duration_seconds
from django_prometheus.db.backends.postgresql import base
from psycopg import pq


def timed_cursor(cursor_class, duration):
    """`cursor_class` whose execute and executemany observe their time into `duration`."""

    class TimedCursor(cursor_class):
        def execute(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return super().execute(*args, **kwargs)
            finally:
                duration.observe(time.perf_counter() - started)

        def executemany(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return super().executemany(*args, **kwargs)
            finally:
                duration.observe(time.perf_counter() - started)

    return TimedCursor


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = django_base.DatabaseWrapper.get_connection_params(self)
        if getattr(settings, "METRICS_ENABLED", True):
            params["cursor_factory"] = timed_cursor(params["cursor_factory"],
                                                    query_duration_seconds.labels(self.alias, self.vendor))
        return params

    def is_usable(self):
        if self.connection is None or self.connection.closed:
            return False
        if self.connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
