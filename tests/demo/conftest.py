import pytest

from tests.demo.world import demo_running, sink_browser


@pytest.fixture
def demo_world(
    live_operator, loopback_allowed, deliver_in_process, settings, tmp_path, monkeypatch
):
    """The demo services, seeded into the live operator, with their state in this test's var/.

    Notifications are delivered in this process: no worker reads this run's broker.
    """
    settings.VAR_DIR = tmp_path / "var"
    with demo_running(operator=live_operator, environment=monkeypatch) as world:
        yield world


@pytest.fixture
def participant(demo_world):
    """A browser with an account at the demo's wellbeing service."""
    return sink_browser(demo_world)
