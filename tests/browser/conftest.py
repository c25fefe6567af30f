import os
from pathlib import Path

import pytest

from tests.demo.world import demo_running
from tests.groups import CHROMIUM, unavailable

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser():
    if unavailable("browser"):
        pytest.skip(unavailable("browser"))  # the group hook reports or fails it first
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the live server
    # and the test's own ORM calls are still synchronous Django.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def contexts(browser):
    """Makes pages in browser contexts of their own: separate browsers, each with its cookies."""
    made = []

    def context():
        made.append(browser.new_context(locale="en-GB"))
        page = made[-1].new_page()
        page.set_default_timeout(10_000)
        return page

    yield context
    for context in made:
        context.close()


@pytest.fixture
def axe():
    from axe_playwright_python.sync_playwright import Axe

    def check(page) -> list[str]:
        results = Axe().run(page)
        return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]

    return check


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


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory) -> Path:
    """Where browser tests write what a person looks at after a run (screenshots).

    OMADATA_ARTEFACTS names the folder (CI keeps `artefacts/`); without it, this run's
    pytest temporary directory, so that nothing lands in the checkout.
    """
    named = os.environ.get("OMADATA_ARTEFACTS")
    folder = Path(named) if named else tmp_path_factory.getbasetemp() / "artefacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
