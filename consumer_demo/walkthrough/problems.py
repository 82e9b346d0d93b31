"""What a visitor can cause, explained on the page instead of failing.

Views raise `Problem` (or let the client's `Unreachable`, or a `Refused` that is a server failure,
through); the middleware renders it as a readable page with the status code that fits, the exchanges
involved, and where to go next.
"""

import sys
from functools import wraps

import redis
from django.shortcuts import render
from django_redis.exceptions import ConnectionInterrupted

from .client import Refused, Unreachable

SERVICE_NAMES = {"auth_server": "auth server", "resource_api": "posts API"}


class Problem(Exception):
    def __init__(self, status: int, title: str, *paragraphs: str, entries=(),
                 next_step: tuple[str, str] = ("/", "Start again")):
        super().__init__(title)
        self.status = status
        self.title = title
        self.paragraphs = paragraphs
        self.entries = list(entries)
        self.next_step = next_step


def post_only(view):
    """For the addresses behind the walkthrough's buttons: opened directly, they explain themselves."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST":
            return view(request, *args, **kwargs)
        problem = Problem(405, "This address belongs to a button",
                          "It does something when one of the walkthrough's buttons sends its form; opening it "
                          "in the address bar does nothing.")
        response = render(request, "walkthrough/problem.html", {"problem": problem}, status=405)
        response["Allow"] = "POST"
        return response

    return wrapper


def unreachable(exc: Unreachable, next_step=("/", "Start again")) -> Problem:
    name = SERVICE_NAMES[exc.service]
    return Problem(
        503, f"The {name} did not answer",
        f"The demo tried to reach the {name} ({exc.entry.get('url') or 'its internal address'}) and got "
        f"{exc.entry['error']}. It is probably stopped or restarting.",
        "Nothing was lost: the demo keeps your progress in its session. Once the service is back "
        "(make up starts whatever is missing), try again.",
        entries=[exc.entry], next_step=next_step,
    )


class ProblemMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Unreachable):
            # A page (the callback) can simply be tried again; an action, a POST to /<page>/<action>/,
            # is retried from its page.
            page = request.path.rstrip("/").rsplit("/", 1)[0] + "/"
            if request.method != "POST":
                back = (request.get_full_path(), "Try again")
            else:
                back = (page, "Back to where you were") if page != "/" else ("/", "Start again")
            exception = unreachable(exception, back)
        if isinstance(exception, Refused) and exception.server_failed:
            exception = Problem(502, f"The auth server failed ({exception.error})",
                                "It could not handle the demo's request; its log says why. Try again in a moment.",
                                entries=[exception.entry] if exception.entry else [])
        if not isinstance(exception, Problem):
            return None
        return render(request, "walkthrough/problem.html", {"problem": exception}, status=exception.status)


def csrf_failure(request, reason=""):
    """Django's CSRF_FAILURE_VIEW: a form older than the visitor's session, or sent from elsewhere."""
    problem = Problem(403, "This form has expired",
                      "The demo could not match the form you sent to your session: the session expired, its "
                      "cookie was deleted, or the form came from another site. Nothing was done.")
    return render(request, "walkthrough/problem.html", {"problem": problem}, status=403)


def server_error(request):
    """handler500. Sessions live in Redis and are read and saved by middleware, outside any view, so
    an unavailable Redis surfaces here (django-redis wraps its errors): an outage to explain (503),
    not a bug."""
    if not isinstance(sys.exc_info()[1], (redis.RedisError, ConnectionInterrupted)):
        return render(request, "500.html", status=500)
    problem = Problem(503, "The demo's session store is unavailable",
                      "The demo keeps each visitor's progress (tokens, timeline) in Redis, which did not "
                      "answer. It is probably stopped or restarting.",
                      "Once Redis is back (make up starts whatever is missing), try again.",
                      next_step=(request.get_full_path(), "Try again"))
    response = render(request, "walkthrough/problem.html", {"problem": problem}, status=503)
    response["Retry-After"] = "5"
    return response
