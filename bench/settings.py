"""The operator's settings with bench/urls.py as the URLconf: for gunicorn in bench/api.py only."""

from omadata.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
