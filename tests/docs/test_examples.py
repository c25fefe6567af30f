"""The convention that keeps the docs' examples tested: what breaks it, and what a run catches."""

import re

import pytest

from tests.docs.examples import DOCS, ExampleError, examples, report, run, shell_environment
from tests.servers import Answer

# The documents whose examples a test runs; a new document with examples joins this list.
TESTED = {"providers.md", "auditors.md"}


def markdown(tmp_path, text: str):
    path = tmp_path / "page.md"
    path.write_text(text)
    return path


def test_an_example_without_its_status_is_refused(tmp_path):
    page = markdown(
        tmp_path, '```sh\ncurl -s "$OMADATA/health"\n# → 200 OK\ncurl -s "$OMADATA/"\n```\n'
    )

    with pytest.raises(ExampleError, match=r"page\.md:4: an example ends with no"):
        examples(page)


def test_a_status_line_with_no_command_is_refused(tmp_path):
    page = markdown(tmp_path, "```sh\n# the health check\n# → 200 OK\n```\n")

    with pytest.raises(ExampleError, match=r"page\.md:3: a status line with no command"):
        examples(page)


def test_a_status_with_another_reason_phrase_is_refused(tmp_path):
    page = markdown(tmp_path, '```sh\ncurl -s "$OMADATA/health"\n# → 200 Fine\n```\n')

    with pytest.raises(ExampleError, match="200 is 'OK', not 'Fine'"):
        examples(page)


def test_a_status_line_out_of_shape_is_refused(tmp_path):
    page = markdown(tmp_path, '```sh\ncurl -s "$OMADATA/health"\n# → should be 200\n```\n')

    with pytest.raises(ExampleError, match="must read '# → 201 Created'"):
        examples(page)


def test_docs_fence_shell_as_sh_or_console_only():
    # An example fenced ```bash would be skipped silently; a command line for your own
    # shell (make, manage.py) is fenced ```console and is not run. SQL for PostgreSQL is
    # fenced ```sql: tests/omadata/test_database_roles.py runs operating.md's.
    fences = {
        (path.name, fence)
        for path in DOCS.glob("*.md")
        for fence in re.findall(r"^```(\w+)", path.read_text(), flags=re.MULTILINE)
    }

    assert {fence for _name, fence in fences} <= {"sh", "python", "console", "json", "text", "sql"}


def test_every_document_with_examples_is_run_by_a_test():
    with_examples = {path.name for path in DOCS.glob("*.md") if examples(path)}

    assert with_examples == TESTED


@pytest.mark.shell
def test_a_run_reports_an_answer_that_differs_from_the_docs(tmp_path, receiver):
    receiver.answers = [Answer(status=200), Answer(status=409, body=b'{"code": "other"}')]
    page = markdown(
        tmp_path,
        '```sh\ncurl -s "$URL"\n# → 201 Created\n\n'
        'curl -s "$URL"\n# → 409 Conflict: frequency_limit\n```\n',
    )

    outcomes = run(examples(page), cwd=tmp_path, env=shell_environment(URL=receiver.url))

    assert [o.problem() for o in outcomes] == [
        "answered 200, the docs say 201",
        "answered without the error code frequency_limit",
    ]
    assert "page.md:3: answered 200" in report(outcomes)


@pytest.mark.shell
def test_a_run_reports_an_example_that_makes_two_requests(tmp_path, receiver):
    page = markdown(tmp_path, '```sh\ncurl -s "$URL"; curl -s "$URL"\n# → 200 OK\n```\n')

    [outcome] = run(examples(page), cwd=tmp_path, env=shell_environment(URL=receiver.url))

    assert outcome.problem() == "made 2 requests; an example makes exactly one"


@pytest.mark.shell
def test_a_run_reports_a_script_that_fails(tmp_path):
    page = markdown(tmp_path, "```python\nassert 1 + 1 == 3, 'arithmetic'\n```\n")

    [outcome] = run(examples(page), cwd=tmp_path, env=shell_environment())

    assert outcome.problem() == "exited with status 1"
    assert "AssertionError: arithmetic" in outcome.output


@pytest.mark.shell
def test_later_examples_see_what_earlier_ones_set(tmp_path, receiver):
    page = markdown(
        tmp_path,
        '```sh\nTARGET=$URL\ncurl -s "$URL"\n# → 200 OK\n```\n\n'
        '```sh\ncurl -s "$TARGET"\n# → 200 OK\n```\n',
    )

    outcomes = run(examples(page), cwd=tmp_path, env=shell_environment(URL=receiver.url))

    assert report(outcomes) == ""
    assert len(receiver.requests) == 2
