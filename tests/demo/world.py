"""The demo services on a free port, against a live operator seeded by demo_seed."""

import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.core.management import call_command

from consent import services
from consent.models import ServiceLink
from demo import helsinki, sports, wearable
from demo.config import Config
from demo.server import serve
from demo.sources import Source
from demo.store import Store, account_of
from demo.wellbeing import BROWSER_COOKIE
from registry.models import Service
from tests.servers import free_port


@dataclass
class DemoWorld:
    url: str  # the demo server
    operator: str  # the live operator
    seeded: dict  # var/demo.json
    store: Store  # the demo's own state, read as its pages would
    wearable: Service
    wellbeing: Service
    sports: Service  # Espoo's sports services, a source
    helsinki: Service  # Helsinki's resident records, a source
    newcomer: Service  # Espoo's newcomer service, a sink


@contextmanager
def demo_running(*, operator: str, environment: pytest.MonkeyPatch) -> Iterator[DemoWorld]:
    """Seed the operator at `operator` with demo_seed, then serve the demo services.

    demo_seed registers the services at OMADATA_DEMO_BASE_URL, which this sets in
    `environment`; it writes demo.json to settings.VAR_DIR, where the demo keeps
    its state too. Outbound requests to loopback must be allowed.
    """
    port = free_port()
    demo_url = f"http://127.0.0.1:{port}"
    environment.setenv("OMADATA_DEMO_BASE_URL", demo_url)
    call_command("demo_seed", stdout=io.StringIO())
    config = Config(operator_url=operator, demo_url=demo_url, var_dir=settings.VAR_DIR)
    server = serve(config, port=port, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield DemoWorld(
            url=demo_url, operator=operator,
            seeded=json.loads(Path(settings.VAR_DIR, "demo.json").read_text()),
            store=Store(config.state_path),
            wearable=Service.objects.get(slug="wearable"),
            wellbeing=Service.objects.get(slug="wellbeing"),
            sports=Service.objects.get(slug="espoo-sports"),
            helsinki=Service.objects.get(slug="helsinki-records"),
            newcomer=Service.objects.get(slug="espoo-newcomer"),
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class SinkBrowser:
    """A browser that has opened the wellbeing page, and so has an account there."""

    session: requests.Session
    account: str

    def page(self, world: DemoWorld) -> str:
        return self.session.get(f"{world.url}/wellbeing/", timeout=10).text


def sink_browser(world: DemoWorld) -> SinkBrowser:
    session = requests.Session()
    landing = session.get(f"{world.url}/wellbeing/", timeout=10)
    assert landing.status_code == 200
    return SinkBrowser(session=session, account=account_of(session.cookies[BROWSER_COOKIE]))


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=10, allow_redirects=False, **kwargs)


def post(url: str, **kwargs) -> requests.Response:
    return requests.post(url, timeout=10, allow_redirects=False, **kwargs)


def form_field(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page)[1]


SOURCES: dict[str, Source] = {s.slug: s for s in (wearable.SOURCE, sports.SOURCE, helsinki.SOURCE)}


def link_at_the_watch(world: DemoWorld, resident, *, return_to: str) -> ServiceLink:
    """Link `resident` at the demo watch as a browser does; return the active link."""
    return link_at(world, resident, world.wearable, return_to=return_to)


def link_at(world: DemoWorld, resident, service: Service, *, return_to: str) -> ServiceLink:
    """Link `resident` at demo source `service` as a browser does; return the active link.

    The link starts in the resident's Omadata session; a browser opens the source's
    link page and presses Link; the source confirms and sends the browser back with
    a code, which finishes the link in the session that started it.
    """
    source = SOURCES[service.slug]
    started = services.link_start(resident=resident, service=service, return_to=return_to)
    browser = requests.Session()
    page = browser.get(
        f"{world.url}{source.path}link", params={"link_token": started.token}, timeout=10
    )
    assert f"You are signed in to {source.name} as" in page.text
    confirmed = post(
        f"{world.url}{source.path}link", cookies=browser.cookies,
        data={"link_token": started.token, "csrf_token": form_field(page.text, "csrf_token")},
    )  # fmt: skip
    assert confirmed.status_code == 302, confirmed.text
    back = urlsplit(confirmed.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"{world.operator}/consent/links/return"
    code = parse_qs(back.query)["code"][0]
    return services.link_return(resident=resident, code=code, started={started.attempt}).link


def operator_post(browser, url: str, page, **data):
    """Post a form of the operator's `page` as the browser does, with its CSRF token."""
    data["csrfmiddlewaretoken"] = form_field(page.text, "csrfmiddlewaretoken")
    return browser.post(url, data=data, headers={"Referer": page.url}, timeout=10)


def link_every_source(world, browser, screen) -> requests.Response:
    """Press each Link on the consent screen, and Link at the source it leads to.

    The screen asks for the sources not yet linked one after the other; it is
    back, with nothing left to link, when this returns it.
    """
    consent_path = screen.url.split("?")[0].removeprefix(world.operator)
    linked = 0
    while f'action="{consent_path}/link' in screen.text:
        form = re.search(rf'action="({re.escape(consent_path)}/link[^"]*)"(.*?)</form>',
                         screen.text, flags=re.DOTALL)  # fmt: skip
        hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form[2]))
        hidden.pop("csrfmiddlewaretoken", None)
        at_source = operator_post(browser, f"{world.operator}{form[1]}", screen, **hidden)
        assert "You are signed in to" in at_source.text, at_source.text
        screen = browser.post(
            at_source.url.split("?")[0], timeout=10,
            data={name: form_field(at_source.text, name) for name in ("link_token", "csrf_token")},
        )  # fmt: skip
        assert screen.url.startswith(f"{world.operator}{consent_path}")
        linked += 1
        assert linked <= 5, "the screen keeps asking for links"
    return screen


@dataclass(frozen=True)
class Approved:
    browser: requests.Session
    screen: str  # the consent screen as it first showed, before any link
    back: requests.Response  # where the operator sent the browser after Approve


def join_and_approve(world, path: str) -> Approved:
    """Join the demo sink at `path` in English as the demo resident, link every source on the
    consent screen, and approve it."""
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    landing = browser.get(f"{world.url}{path}", timeout=10)
    login = browser.post(
        f"{world.url}{path}join",
        data={"csrf_token": form_field(landing.text, "csrf_token")}, timeout=10,
    )  # fmt: skip
    resident = world.seeded["resident"]
    first = operator_post(
        browser, login.url, login, username=resident["username"], password=resident["password"]
    )
    screen = link_every_source(world, browser, first)
    back = operator_post(
        browser, f"{screen.url.split('?')[0]}/answer", screen,
        answer="approve", notice_sha256=form_field(screen.text, "notice_sha256"),
    )  # fmt: skip
    return Approved(browser=browser, screen=first.text, back=back)
