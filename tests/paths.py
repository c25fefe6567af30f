"""Concrete paths from the templates the docs and the OpenAPI document write."""

import re
import uuid

# Placeholders that stand for a number; every other one is an object's UUID.
NUMERIC = {"tree_size"}


def fill_placeholders(path: str) -> str:
    """`path` with each `{name}` replaced by a value its URL pattern takes."""
    return re.sub(
        r"\{([^}]*)\}",
        lambda match: "1" if match.group(1) in NUMERIC else str(uuid.uuid4()),
        path,
    )
