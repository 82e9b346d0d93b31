# gunicorn settings of the consumer demo: the shared ones (common/gunicorn_conf.py) and its app.
from common.gunicorn_conf import *  # noqa: F403

wsgi_app = "demosite.wsgi"
