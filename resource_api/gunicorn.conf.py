# gunicorn settings of the posts API: the shared ones (common/gunicorn_conf.py) and these.
from common import gunicorn_conf
from common.gunicorn_conf import *  # noqa: F403

wsgi_app = "apisite.wsgi"


def post_worker_init(worker):
    # Every worker subscribes to revocation events itself (threads do not survive the fork).
    from posts.token_cache import start_revocation_listener

    start_revocation_listener()
    gunicorn_conf.post_worker_init(worker)


# In the format of the API's own errors (Django Ninja's).
gunicorn_conf.answer_unparseable_requests_with(lambda status, reason: {"detail": f"{reason}."})
