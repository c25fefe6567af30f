"""What the README and docs/ name exists: variables, files, links, commands, URL paths."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import get_commands
from django.urls import Resolver404, resolve

from demo.server import ROUTES
from tests.docs.examples import DOCS
from tests.paths import fill_placeholders

ROOT = DOCS.parent
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
APPS = ("omadata", "common", "ledger", "registry", "webhooks", "consent", "relay", "demo")
# Where the code reads the environment: the helpers of common/env.py, os.environ, the Procfile.
READS = re.compile(
    r'\benv_\w+\(\s*"(?P<helper>[A-Z][A-Z0-9_]+)"'
    r'|os\.environ\.get\(\s*"(?P<environ>[A-Z][A-Z0-9_]+)"'
    r"|\$\{(?P<procfile>[A-Z][A-Z0-9_]+)\}"
)


def backticked(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


def variables_read() -> set[str]:
    sources = [path for app in APPS for path in (ROOT / app).rglob("*.py")]
    names = set()
    for path in [*sources, ROOT / "Procfile"]:
        for found in READS.finditer(path.read_text()):
            names.add(next(name for name in found.groups() if name))
    return names


def configuration_table() -> set[str]:
    text = (DOCS / "operating.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_the_configuration_table_names_every_variable_the_code_reads():
    documented, read = configuration_table(), variables_read()

    assert read - documented == set(), "read by the code, missing from docs/operating.md"
    assert documented - read == set(), "in docs/operating.md, read nowhere"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_files_a_page_names_exist(page):
    text = page.read_text()
    folders = "|".join(
        re.escape(f)
        for f in (".ci", "bench", "docs", "tests", "templates", "locale", "static", *APPS)
    )
    named = {
        token.rstrip("/")
        for token in backticked(text)
        if re.fullmatch(rf"({folders})/[\w./-]*", token)
    }
    linked = {
        target.split("#")[0]
        for target in re.findall(r"\]\(([^)#][^)]*)\)", text)
        if not target.startswith(("http://", "https://"))
    }

    missing = [name for name in named if not (ROOT / name).exists()]
    missing += [target for target in linked if not (page.parent / target).exists()]
    assert missing == []


def anchors(page: Path) -> set[str]:
    """The ids GitHub gives the headings of `page`."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_sections_a_page_links_to_exist(page):
    links = re.findall(r"\]\(([^)#]*)#([^)]+)\)", page.read_text())

    missing = [
        f"{target}#{anchor}"
        for target, anchor in links
        if not target.startswith("http")
        and anchor not in anchors(page.parent / (target or page.name))
    ]
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_make_targets_and_commands_a_page_names_exist(page):
    text = page.read_text()
    targets = set(re.findall(r"^([a-z]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    commands = set(get_commands())

    # In code spans and command lines only: prose may "make" many things.
    code = [*backticked(text), *re.findall(r"^\s*\$ (.+)$", text, flags=re.MULTILINE)]
    named_targets = {t for line in code for t in re.findall(r"\bmake ([a-z]+)\b", line)}
    named_commands = {c for line in code for c in re.findall(r"manage\.py ([a-z_]+)", line)}
    named_commands |= {t for t in code if t in ("demo_seed", "demo_banner")}
    assert named_targets - targets == set()
    assert named_commands - commands == set()


def url_paths(text: str) -> set[str]:
    """The operator's and the demo's URL paths a page names, in code spans."""
    paths = set()
    for token in backticked(text):
        token = token.removeprefix("GET ").removeprefix("POST ").removeprefix("PATCH ")
        if token.startswith("http://127.0.0.1:"):
            token = urlsplit(token).path
        if re.fullmatch(r"/[\w.{}/-]*(\?\S*)?", token) and not token.startswith("/usr/"):
            paths.add(token.split("?")[0])
    return paths


def resolves(path: str) -> bool:
    concrete = fill_placeholders(path)
    if any(route == concrete for _method, route in ROUTES):
        return True
    try:
        resolve(concrete)
    except Resolver404:
        return False
    return True


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_url_paths_a_page_names_exist(page):
    paths = url_paths(page.read_text())
    # A prefix such as /api/v1/ names no page of its own; a longer path that exists has it.
    prefix = {
        p for p in paths if p.endswith("/") and any(q.startswith(p) and q != p for q in paths)
    }

    assert sorted(p for p in paths - prefix if not resolves(p)) == []
