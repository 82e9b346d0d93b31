"""Prometheus metrics of every service (the contract: observability/metrics.yml).

Requests and SQL statements are django-prometheus's (this middleware, and the database backend in
common/postgresql/); each service defines its own metrics with prometheus-client beside the code
they count. Under gunicorn the values live in PROMETHEUS_MULTIPROC_DIR and the master serves all its
workers' samples on METRICS_BIND (common/gunicorn_conf.py); without it (tests, management
commands) they stay in the process.
"""

from django_prometheus.middleware import PrometheusAfterMiddleware
from django_prometheus.utils import Time, TimeSince

# Probes, asked every few seconds by supervisord, Compose and Kubernetes: not users' traffic.
PROBES = frozenset({"/healthz", "/readyz"})


class RequestMetricsMiddleware(PrometheusAfterMiddleware):
    """django-prometheus's per-view metrics, and only the two the contract reads:
    `django_http_responses_total_by_status_view_method` and
    `django_http_requests_latency_seconds_by_view_method`.

    The stock middleware also updates a dozen other series per request and labels the latency with
    the raw request method (any token a client sends: unbounded); here the method is always one of
    the standard ones or "<invalid method>". Listed right after the request id, so it sees the
    status of every answer, the 503s the outer middleware makes of an outage included. The labelled
    series are kept once found: `labels()` takes a lock and builds a key on every call.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._responses, self._latencies = {}, {}

    def process_request(self, request):
        request.prometheus_after_middleware_event = Time()

    def process_view(self, request, view_func, *view_args, **view_kwargs):
        return None

    def process_template_response(self, request, response):
        return response

    def process_exception(self, request, exception):
        # The answer Django makes of the exception reaches process_response and is counted there.
        return None

    def process_response(self, request, response):
        started = getattr(request, "prometheus_after_middleware_event", None)
        if started is None or request.path_info in PROBES:
            return response
        view, method = self._get_view_name(request), self._method(request)
        key = (response.status_code, view, method)
        if (responses := self._responses.get(key)) is None:
            responses = self._responses[key] = self.metrics.responses_by_status_view_method.labels(
                str(response.status_code), view, method)
        if (latency := self._latencies.get(key[1:])) is None:
            latency = self._latencies[key[1:]] = self.metrics.requests_latency_by_view_method.labels(view, method)
        latency.observe(TimeSince(started))
        responses.inc()
        return response
