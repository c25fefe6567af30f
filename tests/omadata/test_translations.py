"""The Finnish and Swedish catalogues are complete, up to date, compiled, and used.

The .po files are read with a small parser of our own, and the committed .mo
files are compared with what the .po files compile to: with GNU msgfmt where it
is installed, and always with the same rules written here in Python. Where GNU
gettext is installed, makemessages runs on a copy of the project to show that
the catalogues hold exactly the strings the source marks for translation.
"""

import ast
import contextlib
import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

LANGUAGES = ("fi", "sv")
LOCALE = Path(settings.LOCALE_PATHS[0])


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def _unquote(text: str) -> str:
    # PO strings use C escapes (\n, \t, \", \\), which a Python literal reads alike.
    return ast.literal_eval(text)


def read_po(path: Path) -> list[Entry]:
    """The active (not obsolete) entries of a .po file, header included."""
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int | None] | None = None

    def finish():
        nonlocal entry, target
        if entry.msgid is not None:
            entries.append(entry)
        entry, target = Entry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
        elif line.startswith("#~"):
            continue  # obsolete entries do not reach the .mo file
        elif line.startswith("#,"):
            if entry.msgid is not None and entry.msgstr:
                finish()
            entry.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if target is None:
                raise ValueError(f"{path}:{number}: a string continues nothing")
            name, index = target
            if name == "msgstr":
                entry.msgstr[index] += _unquote(line)
            else:
                setattr(entry, name, getattr(entry, name) + _unquote(line))
        else:
            match = _KEYWORD.match(line)
            if match is None:
                raise ValueError(f"{path}:{number}: cannot read {raw!r}")
            keyword, index, value = match.groups()
            if keyword in ("msgctxt", "msgid") and entry.msgstr:
                finish()  # a new entry without a blank line before it
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index) if index is not None else 0)
                entry.msgstr[target[1]] = _unquote(value)
            else:
                target = (keyword, None)
                setattr(entry, keyword, _unquote(value))
                if keyword == "msgid":
                    entry.line = number
    finish()
    return entries


def catalog_from_po(path: Path) -> dict:
    """What msgfmt puts in a .mo file, keyed as gettext.GNUTranslations keys it.

    Like msgfmt without --use-fuzzy: fuzzy and untranslated entries are left out.
    """
    catalog: dict = {}
    for entry in read_po(path):
        if not entry.is_header and ("fuzzy" in entry.flags or not entry.msgstr.get(0)):
            continue
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            catalog[msgid] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                catalog[(msgid, index)] = text
    return catalog


def catalog_from_mo(path: Path) -> dict:
    with path.open("rb") as mo:
        return dict(gettext.GNUTranslations(mo)._catalog)


def comparable(catalog: dict) -> dict:
    """The catalogue without the header's POT-Creation-Date, which GNU msgfmt drops."""
    header = "".join(
        line
        for line in catalog.get("", "").splitlines(keepends=True)
        if not line.startswith("POT-Creation-Date:")
    )
    return {**catalog, "": header}


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def translated_entries(language: str) -> list[Entry]:
    entries = [e for e in read_po(po_path(language)) if not e.is_header]
    assert len(entries) > 50, f"{po_path(language)} holds only {len(entries)} entries"
    return entries


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_and_none_is_fuzzy(language):
    problems = []
    for entry in read_po(po_path(language)):
        where = f"{po_path(language).name}:{entry.line} {entry.msgid!r}"
        if "fuzzy" in entry.flags:
            problems.append(f"{where} is fuzzy")
        if entry.is_header:
            continue
        forms = 2 if entry.msgid_plural is not None else 1
        if sorted(entry.msgstr) != list(range(forms)):
            problems.append(f"{where} has msgstr forms {sorted(entry.msgstr)}")
        problems += [f"{where} form {i} is empty" for i, t in entry.msgstr.items() if not t.strip()]

    assert translated_entries(language)
    assert problems == []


def test_finnish_and_swedish_translate_the_same_strings():
    def keys(language):
        return {(e.msgctxt, e.msgid, e.msgid_plural) for e in translated_entries(language)}

    assert keys("fi") == keys("sv")


# As `make messages` runs it.
MAKEMESSAGES_IGNORE = [".venv/*", "tests/*"]


def _describe(key: tuple[str | None, str, str | None]) -> str:
    msgctxt, msgid, msgid_plural = key
    text = repr(msgid) if msgid_plural is None else f"{msgid!r} / {msgid_plural!r}"
    return text if msgctxt is None else f"{msgctxt!r}: {text}"


@pytest.fixture(scope="module")
def fresh_catalogues(tmp_path_factory) -> Path:
    """The locale directory of a copy of the project, after makemessages has run there.

    The copy leaves out what makemessages would skip anyway (hidden folders, the
    tests, the collected static files), so the project's own files stay untouched.
    """
    missing = [t for t in ("xgettext", "msguniq", "msgmerge") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"GNU gettext is not installed ({', '.join(missing)} missing)")
    project = Path(settings.BASE_DIR)
    skipped = {Path(settings.STATIC_ROOT).resolve(), (project / "tests").resolve()}
    if settings.MEDIA_ROOT:
        skipped.add(Path(settings.MEDIA_ROOT).resolve())

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {
            name
            for name in names
            if name.startswith(".")
            or name == "__pycache__"
            or (Path(folder) / name).resolve() in skipped
        }

    copy = tmp_path_factory.mktemp("messages") / "project"
    shutil.copytree(project, copy, ignore=ignore)
    with contextlib.chdir(copy), override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command(
            "makemessages",
            locale=list(LANGUAGES),
            no_obsolete=True,
            ignore_patterns=MAKEMESSAGES_IGNORE,
            verbosity=0,
        )
    return copy / "locale"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_holds_exactly_the_strings_of_the_source(language, fresh_catalogues):
    def keys(path: Path) -> set:
        return {(e.msgctxt, e.msgid, e.msgid_plural) for e in read_po(path) if not e.is_header}

    committed = keys(po_path(language))
    fresh = keys(fresh_catalogues / language / "LC_MESSAGES" / "django.po")

    assert len(fresh) > 50
    difference = {
        "new in the source": sorted(map(_describe, fresh - committed)),
        "gone from the source": sorted(map(_describe, committed - fresh)),
    }
    where = po_path(language).relative_to(settings.BASE_DIR)
    assert difference == {"new in the source": [], "gone from the source": []}, (
        f"{where} is out of date with the source: run `make messages`, "
        "translate the new strings, and run it again to compile them"
    )


_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|<[^>]+>")


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_placeholders_and_markup(language):
    problems = []
    for entry in translated_entries(language):
        for index, text in entry.msgstr.items():
            source = entry.msgid if index == 0 or entry.msgid_plural is None else entry.msgid_plural
            if sorted(_PLACEHOLDER.findall(text)) != sorted(_PLACEHOLDER.findall(source)):
                problems.append(f"{entry.line}: {source!r} -> {text!r}")

    assert problems == []


def _compile_with_msgfmt(po: Path, mo: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext's msgfmt is not installed; the Python compiler still runs")
    subprocess.run([msgfmt, "--check-format", "-o", str(mo), str(po)], check=True)


@pytest.mark.parametrize("compiler", ["msgfmt", "python"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_matches_the_po_file(language, compiler, tmp_path):
    committed = po_path(language).with_suffix(".mo")
    assert committed.is_file(), f"{committed} is missing: run manage.py compilemessages"

    if compiler == "msgfmt":
        fresh = tmp_path / "django.mo"
        _compile_with_msgfmt(po_path(language), fresh)
        expected = catalog_from_mo(fresh)
    else:
        expected = catalog_from_po(po_path(language))

    assert len(expected) > 50
    assert comparable(catalog_from_mo(committed)) == comparable(expected), (
        f"{committed} is out of date with {po_path(language).name}: run manage.py compilemessages"
    )


HEADINGS = {
    "fi": "Omat tietosi, oma päätöksesi",
    "sv": "Dina uppgifter, ditt beslut",
    "en": "Your data, your decision",
}


@pytest.mark.parametrize("language", HEADINGS)
def test_front_page_speaks_the_language_asked_for(language, client, db):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert f"<h1>{HEADINGS[language]}</h1>" in html
    others = [text for code, text in HEADINGS.items() if code != language and text in html]
    assert others == []
