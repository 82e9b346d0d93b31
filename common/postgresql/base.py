"""Django's PostgreSQL backend, with a health check that costs no round trip to Postgres, and every
statement timed by django-prometheus (its PostgreSQL backend, which this one extends).

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` before the first query of each request on a reused
connection: one more round trip per request (docs/performance.md, "Token endpoint hot path"). But a
connection that Postgres ended while it sat idle (a restart, pg_terminate_backend, a timeout) has
been told so already: the server's last message and the end of the stream wait in its socket. On an
idle connection of these services nothing else ever arrives (they LISTEN to nothing), so a socket with
anything to read is treated as dead, and Django opens a new connection.
"""

import select

from django_prometheus.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
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
