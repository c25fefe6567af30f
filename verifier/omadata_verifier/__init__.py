"""Omadata's offline verifier: audit bundles and a monitor of the receipt log.

It needs `cryptography` and nothing of the operator: no Django, none of its
code, no access to its database.
"""

__version__ = "0.1.0"
