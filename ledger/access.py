"""Who may audit: members of the auditors group in the browser, their API clients by scope.

The role is a Django group, granted and revoked by staff (registry's
`auditor_grant` and `auditor_revoke` record each change). Staff may read what
auditors read: they run the operator and answer for it.
"""

from typing import Any

AUDITORS_GROUP = "auditors"
# The one scope an auditor's API client holds, and the only one it may hold.
AUDIT_SCOPE = "audit:read"


def is_auditor(user: Any) -> bool:
    """Whether `user` (a User, AnonymousUser or None) holds the auditor role."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.groups.filter(name=AUDITORS_GROUP).exists())


def can_audit(user: Any) -> bool:
    """Whether `user` may read the audit pages: an auditor, or active staff."""
    if user is not None and getattr(user, "is_authenticated", False) and user.is_active:
        return bool(user.is_staff) or is_auditor(user)
    return False
