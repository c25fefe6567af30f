"""Shell examples in docs/: found, run in one bash per document, and checked.

The convention (docs/development.md, "Tested docs"): a block fenced as ```sh
is an example. Each command in it is followed by a comment line that states
the HTTP status its one request answers, with the standard reason phrase and
optionally the error code the JSON answer carries:

    curl -s "$OMADATA/health"
    # → 200 OK

    curl -s -X POST "$OMADATA/api/v1/transfers" ...
    # → 409 Conflict: frequency_limit

Lines before a status line (assignments, comments, a heredoc) belong to its
command; every such group makes exactly one request. A block fenced as
```python is a script: it runs where the shell examples run, makes no request
of its own and must exit with status 0. A document's blocks run in order in
one shell, so later examples use what earlier ones set ($TOKEN) or saved.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"

FENCE = re.compile(r"^```(?P<language>sh|python)\s*$")
PYTHON_END = "__OMADATA_DOCS_PYTHON__"
STATUS = re.compile(
    r"^# → (?P<status>\d{3}) (?P<reason>[A-Za-z][A-Za-z' -]*?)(?:: (?P<code>\w+))?$"
)


class ExampleError(ValueError):
    """A document's examples break the convention; the message names the line."""


@dataclass(frozen=True)
class Example:
    document: str
    line: int  # of the status line (of a script: its first line), 1-based
    command: str
    status: int | None  # None: a script, which makes no request
    code: str | None = None  # the error code the answer must carry, if the docs name one


def examples(path: Path) -> list[Example]:
    """Every shell example in the Markdown file at `path`, in order."""
    found: list[Example] = []
    block: list[tuple[int, str]] | None = None
    language = ""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if block is None:
            fence = FENCE.match(line)
            if fence:
                block, language = [], fence["language"]
            continue
        if not line.startswith("```"):
            block.append((number, line))
        elif language == "sh":
            found += _block_examples(path.name, block)
            block = None
        else:
            found.append(_script(path.name, block))
            block = None
    if block is not None:
        raise ExampleError(f"{path.name}: a ```sh block is not closed")
    return found


def _block_examples(document: str, lines: list[tuple[int, str]]) -> list[Example]:
    found, pending = [], []
    for number, line in lines:
        stated = STATUS.match(line.strip())
        if line.strip().startswith("# →") and stated is None:
            raise ExampleError(f"{document}:{number}: a status line must read '# → 201 Created'")
        if stated is None:
            pending.append(line)
            continue
        status, reason = int(stated["status"]), stated["reason"]
        if reason != HTTPStatus(status).phrase:
            raise ExampleError(
                f"{document}:{number}: {status} is '{HTTPStatus(status).phrase}', not '{reason}'"
            )
        if not _commands(pending):
            raise ExampleError(f"{document}:{number}: a status line with no command before it")
        command = textwrap.dedent("\n".join(pending)).strip("\n")
        found.append(Example(document, number, command, status, stated["code"]))
        pending = []
    if _commands(pending):
        last = lines[-1][0]
        raise ExampleError(f"{document}:{last}: an example ends with no '# → <status>' line")
    return found


def _script(document: str, lines: list[tuple[int, str]]) -> Example:
    code = "\n".join(line for _number, line in lines)
    if PYTHON_END in code:
        raise ExampleError(f"{document}:{lines[0][0]}: a script must not contain {PYTHON_END}")
    command = f"python3 - <<'{PYTHON_END}'\n{code}\n{PYTHON_END}"
    return Example(document, lines[0][0] if lines else 0, command, status=None)


def _commands(lines: list[str]) -> bool:
    return any(line.strip() and not line.strip().startswith("#") for line in lines)


# Every `curl` an example runs leaves its answer's head and body in the trace
# folder; each example's group then moves them into a folder of its own, with
# its exit status and its output.
_PRELUDE = r"""
curl() {
  local request
  request=$(mktemp "$OMADATA_DOCS_TRACE/request.XXXXXXXX")
  command curl --dump-header "$request.head" "$@" | tee "$request.body"
  return "${PIPESTATUS[0]}"
}
__docs_done() {
  local status=$? folder="$OMADATA_DOCS_TRACE/$1" request
  echo "$status" > "$folder/exit"
  for request in "$OMADATA_DOCS_TRACE"/request.*; do
    [ -e "$request" ] && mv "$request" "$folder/"
  done
}
"""


def script(found: list[Example]) -> str:
    """One bash script that runs every example in order, each in a group of its own."""
    parts = [_PRELUDE]
    for index, example in enumerate(found):
        parts.append(
            f'mkdir -p "$OMADATA_DOCS_TRACE/{index}"\n'
            f'{{\n{example.command}\n}} >"$OMADATA_DOCS_TRACE/{index}/output" 2>&1\n'
            f"__docs_done {index}\n"
        )
    return "\n".join(parts)


@dataclass(frozen=True)
class Outcome:
    example: Example
    exit: int
    statuses: list[int]  # of each request the example made
    body: bytes  # of its last request
    output: str

    def problem(self) -> str | None:
        """What differs from the docs, or None when the example answered as documented."""
        if self.example.status is None:
            if self.statuses:
                return f"a script made {len(self.statuses)} requests with curl; it makes none"
            return f"exited with status {self.exit}" if self.exit != 0 else None
        if len(self.statuses) != 1:
            return f"made {len(self.statuses)} requests; an example makes exactly one"
        if self.statuses[0] != self.example.status:
            return f"answered {self.statuses[0]}, the docs say {self.example.status}"
        if self.exit != 0:
            return f"exited with status {self.exit}"
        if self.example.code and self.example.code not in _error_codes(self.body):
            return f"answered without the error code {self.example.code}"
        return None


def _error_codes(body: bytes) -> set[str]:
    try:
        answer = json.loads(body)
    except ValueError:
        return set()
    if not isinstance(answer, dict):
        return set()
    fields = answer.get("fields") or []
    return {answer.get("code")} | {f.get("code") for f in fields if isinstance(f, dict)}


def shell_environment(**variables: str) -> dict[str, str]:
    """A clean environment for the examples: the test's own PATH and `variables`, nothing else.

    Nothing leaks in from the developer's shell (an OMADATA of their own, a proxy).
    """
    # This interpreter's folder first: the scripts' python3 is the one with the test's packages.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {"PATH": path, "LANG": "C.UTF-8", **variables}


def run(
    found: list[Example], *, cwd: Path, env: dict[str, str], timeout: float = 90
) -> list[Outcome]:
    """Run the examples in one bash in `cwd` with only `env`; what each one came to."""
    trace = cwd / ".docs-trace"
    trace.mkdir()
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script(found)],
        cwd=cwd, env={**env, "OMADATA_DOCS_TRACE": str(trace)}, timeout=timeout,
        stdin=subprocess.DEVNULL, capture_output=True, check=False,
    )  # fmt: skip
    return [_outcome(example, trace / str(index)) for index, example in enumerate(found)]


def _outcome(example: Example, folder: Path) -> Outcome:
    if not (folder / "exit").exists():
        return Outcome(example, exit=-1, statuses=[], body=b"", output="(never ran)")
    heads = sorted(folder.glob("request.*.head"), key=lambda p: p.stat().st_mtime_ns)
    statuses = [_last_status(head.read_text(errors="replace")) for head in heads]
    body_path = heads[-1].with_suffix(".body") if heads else None
    return Outcome(
        example,
        exit=int((folder / "exit").read_text()),
        statuses=statuses,
        body=body_path.read_bytes() if body_path and body_path.exists() else b"",
        output=(folder / "output").read_text(errors="replace"),
    )


def _last_status(head: str) -> int:
    # A 100 Continue may come first; the final answer's status line is the last one.
    lines = [line for line in head.splitlines() if line.startswith("HTTP/")]
    return int(lines[-1].split()[1]) if lines else 0


def report(outcomes: list[Outcome]) -> str:
    """Every example that did not answer as documented, with what it printed."""
    lines = []
    for outcome in outcomes:
        problem = outcome.problem()
        if problem is None:
            continue
        example = outcome.example
        lines += [
            f"{example.document}:{example.line}: {problem}",
            textwrap.indent(example.command, "    $ "),
            textwrap.indent(outcome.output.strip()[-2000:] or "(no output)", "    | "),
        ]
    return "\n".join(lines)
