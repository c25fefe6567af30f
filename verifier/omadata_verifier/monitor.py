"""Following a live operator's receipt log: each new checkpoint must extend the last one seen.

The state file keeps the last verified checkpoint (its signed JWS, so that it can
be shown to anyone) and every key the operator has published. A smaller tree, the
same size with another root, a newer tree that no consistency proof joins to the
last, or a published key gone missing is evidence against the operator: the
monitor names it and stops, and leaves the state file as it was.
"""

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from omadata_verifier import __version__, jose, merkle
from omadata_verifier.values import b64_hash, b64_hashes, is_int, is_size, shown

MAX_ANSWER_BYTES = 1024 * 1024
# The state file holds one checkpoint and one JWKS, each an answer of at most 1 MiB.
MAX_STATE_BYTES = 4 * MAX_ANSWER_BYTES
TIMEOUT = 30


class Unreachable(RuntimeError):
    """The operator could not be asked, or gave an answer that is not what it documents."""


class StateError(RuntimeError):
    """The state file cannot be read or written, or is not one this monitor wrote: it will
    not mend by waiting, so following stops."""


class Misbehaviour(RuntimeError):
    """Evidence that the operator's log is not append-only: a rollback, a fork, a lost key."""


@dataclass(frozen=True)
class Seen:
    size: int
    root: bytes
    jws: str
    operator: object


def follow(
    url: str,
    *,
    state: Path,
    once: bool,
    interval: float,
    say: Callable[[str], None] = print,
) -> None:
    """Check the operator's latest checkpoint now, and every `interval` seconds unless `once`.

    Raises Misbehaviour on evidence against the operator, and StateError when the state
    file cannot be used. Raises Unreachable when `once` and the operator cannot be asked
    or answers what it does not document; when following, says so and tries again.
    """
    while True:
        try:
            follow_once(url, state=state, say=say)
        except Unreachable as error:
            if once:
                raise
            say(f"not checked this time: {error}")
        if once:
            return
        time.sleep(interval)


def follow_once(url: str, *, state: Path, say: Callable[[str], None] = print) -> None:
    base = url.rstrip("/")
    saved = _load(state)
    published = _get(f"{base}/.well-known/jwks.json")
    keys, jwks = _keys(published, saved.get("keys", {}))
    answer = _get(f"{base}/api/v1/audit/checkpoints/latest", missing_ok=True)
    if answer is None:
        say(f"{base}: no checkpoint signed yet")
        _save(state, {**saved, "keys": jwks})
        return
    token = answer.get("jws") if isinstance(answer, dict) else None
    try:
        latest = _seen(token, keys)
    except ValueError as error:
        raise Misbehaviour(f"the latest checkpoint does not verify: {error}") from None
    signed_for = latest.operator
    operator = saved.get("operator", signed_for)
    if not isinstance(signed_for, str) or signed_for != operator:
        raise Misbehaviour(
            f"the latest checkpoint is signed for {shown(signed_for)}, not {shown(operator)}"
        )
    last = _last(saved, keys, state)
    if last is None:
        say(f"checkpoint {latest.size}: first seen, its signature verified; trusted from now on")
    else:
        _extends(base, last, latest, say)
    saved = {"operator": operator, "tree_size": latest.size, "jws": latest.jws, "keys": jwks}
    _save(state, {**saved, "checked_at": int(time.time())})


def _extends(base: str, last: Seen, latest: Seen, say: Callable[[str], None]) -> None:
    if latest.size < last.size:
        raise Misbehaviour(
            f"rollback: the latest checkpoint has {latest.size} leaves, fewer than the "
            f"{last.size} of checkpoint {last.size}, verified before.\n"
            f"  checkpoint {last.size}: {last.jws}\n  checkpoint {latest.size}: {latest.jws}"
        )
    if latest.size == last.size:
        if latest.root != last.root:
            raise Misbehaviour(
                f"fork: two signed roots for a tree of {latest.size} leaves.\n"
                f"  before: {last.jws}\n  now:    {latest.jws}"
            )
        say(f"checkpoint {latest.size}: unchanged")
        return
    query = urlencode({"first": last.size, "second": latest.size})
    try:
        answer = _get(f"{base}/api/v1/audit/consistency?{query}")
        proof = b64_hashes(answer.get("proof") if isinstance(answer, dict) else None)
        merkle.verify_consistency(
            old_size=last.size,
            new_size=latest.size,
            old_root=last.root,
            new_root=latest.root,
            proof=proof,
        )
    except (Unreachable, ValueError) as error:
        raise Misbehaviour(
            f"fork: checkpoint {latest.size} does not extend checkpoint {last.size}, "
            f"verified before: {error}\n"
            f"  checkpoint {last.size}: {last.jws}\n  checkpoint {latest.size}: {latest.jws}"
        ) from None
    say(f"checkpoint {latest.size}: extends checkpoint {last.size}, consistency proof verified")


def _keys(published: object, seen: dict[str, Any]) -> tuple[dict[str, jose.Key], dict[str, Any]]:
    """The operator's keys now, after checking that every key seen before is still there."""
    listed = published.get("keys") if isinstance(published, dict) else None
    if not isinstance(listed, list):
        raise Unreachable("the JWKS is not a key set")
    jwks = {k["kid"]: k for k in listed if isinstance(k, dict) and isinstance(k.get("kid"), str)}
    for kid, jwk in jwks.items():
        if not _is_public(_public(jwk)):
            raise Unreachable(
                f"the JWKS is not a key set: key {shown(kid)} has a field not a string"
            )
    for kid, jwk in seen.items():
        if kid not in jwks:
            raise Misbehaviour(
                f"key {kid}, published before, is missing from the JWKS: "
                "what it signed no longer verifies"
            )
        if _public(jwks[kid]) != _public(jwk):
            raise Misbehaviour(f"key {kid} is published with another public key than before")
    keys = {}
    for kid, jwk in jwks.items():
        try:
            keys[kid] = jose.Key(kid=kid, public=jose.public_key(jwk))
        except jose.Invalid:
            continue  # a key of another kind signs nothing this monitor reads
    return keys, {kid: _public(jwk) for kid, jwk in jwks.items()}


PUBLIC_FIELDS = ("kty", "crv", "x", "y")


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {name: jwk.get(name) for name in PUBLIC_FIELDS}


def _is_public(jwk: object) -> bool:
    """What `_public` keeps of a key: its fields, each a string or absent (None)."""
    return (
        isinstance(jwk, dict)
        and set(jwk) == set(PUBLIC_FIELDS)
        and all(isinstance(value, str | None) for value in jwk.values())
    )


def _seen(token: object, keys: dict[str, jose.Key]) -> Seen:
    """A checkpoint verified with `keys`; raise ValueError (jose.Invalid) if it is not one."""
    _key, payload = jose.verify(token, typ=jose.CHECKPOINT_TYP, keys=keys)
    size = payload.get("tree_size")
    if not is_size(size):
        raise jose.Invalid("it signs no tree size")
    root = b64_hash(payload.get("root"))
    return Seen(size=size, root=root, jws=str(token), operator=payload.get("operator"))


def _last(saved: dict[str, Any], keys: dict[str, jose.Key], state: Path) -> Seen | None:
    """The checkpoint verified last time, read again from its signed JWS in the state file."""
    if "jws" not in saved:
        return None
    try:
        return _seen(saved["jws"], keys)
    except ValueError as error:
        raise StateError(
            f"the checkpoint in the state file {state} does not verify: {error}"
        ) from None


# What each field of a state file holds; `_load` refuses a file with anything else.
_STATE_FIELDS: dict[str, Callable[[object], bool]] = {
    "operator": lambda value: isinstance(value, str),
    "tree_size": is_size,
    "jws": lambda value: isinstance(value, str),
    "keys": lambda value: (
        isinstance(value, dict) and all(_is_public(jwk) for jwk in value.values())
    ),
    "checked_at": is_int,
}


def _load(state: Path) -> dict[str, Any]:
    """The state file as this monitor wrote it, {} if there is none; raise StateError if
    it cannot be read or holds anything else."""
    try:
        with state.open("rb") as file:
            text = file.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise StateError(f"cannot read the state file {state}: {error.strerror or error}") from None
    if len(text) > MAX_STATE_BYTES:
        raise StateError(f"the state file {state} is larger than this monitor writes one")
    try:
        saved = json.loads(text)
    except (ValueError, RecursionError):
        raise StateError(f"the state file {state} is not JSON") from None
    if not isinstance(saved, dict):
        raise StateError(f"the state file {state} is not one this monitor wrote: not an object")
    wrong = [
        name for name, valid in _STATE_FIELDS.items() if name in saved and not valid(saved[name])
    ]
    if wrong:
        raise StateError(
            f"the state file {state} is not one this monitor wrote: "
            f"its {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} malformed"
        )
    return saved


def _save(state: Path, saved: dict[str, Any]) -> None:
    partial = state.with_name(f".{state.name}.{os.getpid()}")
    try:
        partial.write_text(json.dumps(saved, indent=2) + "\n")
        partial.replace(state)  # atomic: a crash leaves the old state or the new one
    except OSError as error:
        raise StateError(
            f"cannot write the state file {state}: {error.strerror or error}"
        ) from None


def _get(url: str, *, missing_ok: bool = False) -> Any:
    if urlsplit(url).scheme not in ("http", "https"):
        raise Unreachable(f"{url} is not an http(s) URL")
    request = Request(  # noqa: S310 -- the scheme is checked above
        url, headers={"Accept": "application/json", "User-Agent": f"omadata-verify/{__version__}"}
    )
    try:
        with urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            body = _read(url, answer)
    except HTTPError as error:
        if missing_ok and error.code == 404:
            return None
        raise Unreachable(f"{url} answered {error.code} {error.reason}") from None
    except (URLError, OSError) as error:
        raise Unreachable(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None
    if len(body) > MAX_ANSWER_BYTES:
        raise Unreachable(f"{url} answered more than {MAX_ANSWER_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise Unreachable(f"{url} did not answer JSON") from None
    except RecursionError:
        # Deeper than Python's stack: an answer that would stop the monitor with a traceback.
        raise Unreachable(f"{url} answered JSON nested too deeply to read") from None


def _read(url: str, answer: Any) -> bytes:
    """The answer's body, up to MAX_ANSWER_BYTES + 1, within TIMEOUT seconds in all: the
    socket's timeout bounds each read, and an answer trickled a byte at a time would
    otherwise hold the monitor for ever."""
    deadline = time.monotonic() + TIMEOUT
    body = bytearray()
    while len(body) <= MAX_ANSWER_BYTES:
        if time.monotonic() > deadline:
            raise Unreachable(f"{url} took more than {TIMEOUT} seconds to answer")
        chunk = answer.read1(MAX_ANSWER_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)
