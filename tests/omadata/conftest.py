import io
from contextlib import redirect_stderr

import pytest
from django.utils.log import configure_logging


@pytest.fixture
def log_output(settings):
    """What the console handler writes, with logging configured from LOGGING as Django does.

    Django configures logging once at start; the handlers it made then write to
    the test run's own stderr, which this test cannot read.
    """
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    yield buffer
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
