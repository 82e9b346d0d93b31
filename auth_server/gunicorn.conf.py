# gunicorn settings of the auth server: the shared ones (common/gunicorn_conf.py) and these.
from common import gunicorn_conf
from common.gunicorn_conf import *  # noqa: F403

wsgi_app = "authsite.wsgi"

# In the OAuth error format (RFC 6749 §5.2), as the server's own errors.
gunicorn_conf.answer_unparseable_requests_with(lambda status, reason: {
    "error": "invalid_request" if status < 500 else "server_error", "error_description": f"{reason}."})
