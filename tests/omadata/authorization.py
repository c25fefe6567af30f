"""The authorization matrix's table: what every persona gets at every URL, by method.

tests/omadata/test_authorization.py walks the URL configuration and asks this
table about each pattern it finds; a pattern the table does not name fails, and
so does an entry that names no pattern. To add a URL, add its row here.

A row maps personas to answers. A key is one persona's name or a tuple of
them (the groups below); every persona must be covered exactly once. An answer
is one status for every method, or a dict from methods ("GET HEAD", or "*"
for the methods not named) to a status. A status is a number, or LOGIN or
ADMIN_LOGIN for a redirect to that login page; 302 is a redirect anywhere else.

A pattern with an object in it is filled with a real object of tests/world.py
(PARAMETERS), or with several (VARIANTS), each with a row of its own under
"<pattern> [<variant>]". Whoever is refused an object must get the answer they
would get for an object that does not exist: the test checks that too.

The admin generates six patterns for each model it shows; ADMIN_MODELS says
what staff may do with each model, and the rows are made from that. The
admin's views tell only GET and POST apart (admin_view turns away everyone who
is not staff before anything else, and a model's views treat every other
method as GET), so its model patterns are tried with those two; the admin
site's own pages, like every other pattern, with all seven methods.
"""

from collections.abc import Callable
from typing import Any

from django.contrib.contenttypes.models import ContentType

from tests.world import World

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ADMIN_METHODS = ("GET", "POST")

LOGIN = "302 to the login page"
ADMIN_LOGIN = "302 to the admin's login page"

PERSONAS = (
    "anonymous",
    "aino",  # a resident, whose consent, link and transfer the world holds
    "eero",  # another resident
    "sink_browser",  # the sink's provider, logged in to the provider page
    "sink_api",  # the sink's provider's API client, with every scope
    "source_api",  # the source's provider's API client, with every scope
    "other_api",  # another organisation's provider's API client, with every scope
    "other_browser",  # that organisation's provider, logged in
    "auditor",  # holds the auditor role, logged in
    "auditor_api",  # that auditor's API client, with `audit:read` (the only scope it may hold)
    "staff",  # is_staff and is_superuser
)
TOKENS = ("sink_api", "source_api", "other_api")
# A token does not log in to the pages, and a session does not authenticate to the API.
NO_SESSION = ("anonymous", *TOKENS, "auditor_api")
NO_TOKEN = ("anonymous", "aino", "eero", "sink_browser", "other_browser", "auditor", "staff")
NOT_AINO = ("eero", "sink_browser", "other_browser", "auditor", "staff")
SESSIONS = ("aino", *NOT_AINO)
NOT_AUDITOR_SESSIONS = tuple(p for p in SESSIONS if p != "auditor")
NOT_PROVIDERS = ("aino", "eero", "auditor", "staff")
NOT_STAFF = tuple(p for p in PERSONAS if p != "staff")
NOT_AUDITORS = ("aino", "eero", "sink_browser", "other_browser")

GET = {"GET HEAD": 200, "*": 405}
GET_LOGIN = {"GET HEAD": LOGIN, "*": 405}
POST_ONLY = {"POST": 200, "*": 405}

# -- filling the patterns -------------------------------------------------------------------

PARAMETERS: dict[str, Callable[[World], Any]] = {
    "request_id": lambda w: w.request.pk,
    "consent_id": lambda w: w.consent.pk,
    "action": lambda w: "withdraw",
    "link_id": lambda w: w.link.pk,
    "transfer_id": lambda w: w.transfer.pk,
    "receipt_id": lambda w: w.receipt.pk,
    "tree_size": lambda w: w.checkpoint.tree_size,
    "service_id": lambda w: w.pending.pk,
    "credential_id": lambda w: w.credential.pk,
    "id": lambda w: w.personas["aino"].user.pk,  # the admin's password change of a user
    "content_type_id": lambda w: ContentType.objects.get_for_model(w.consent).pk,
    "object_id": lambda w: w.consent.pk,  # the admin's models: see the test
    "app_label": lambda w: "consent",
    "url": lambda w: "nothing-here/",
}

VARIANTS: dict[str, dict[str, dict[str, Callable[[World], Any]]]] = {
    "api/v1/services/<uuid:service_id>": {
        "approved": {"service_id": lambda w: w.wearable.pk},
        "pending": {"service_id": lambda w: w.pending.pk},
    },
    "services/<slug:slug>/transparency": {
        "approved": {"slug": lambda w: w.wearable.slug},
        "pending": {"slug": lambda w: w.pending.slug},
    },
    **{
        route: {
            "answered": {"request_id": lambda w: w.request.pk},
            "open": {"request_id": lambda w: w.open_request.pk},
        }
        for route in (
            "consent/requests/<uuid:request_id>",
            "consent/requests/<uuid:request_id>/link",
            "consent/requests/<uuid:request_id>/answer",
        )
    },
    "my/consents/<uuid:consent_id>/<str:action>": {
        action: {"action": lambda w, action=action: action}
        for action in ("pause", "resume", "withdraw", "delete")
    },
}

# -- the table ------------------------------------------------------------------------------

_OWN_CONSENT_CHANGE = {
    NO_SESSION: {"POST": LOGIN, "*": 405},
    "aino": {"POST": 302, "*": 405},
    NOT_AINO: {"POST": 404, "*": 405},
}

# The consent screen's actions, and resuming a consent, refuse an auditor before looking
# anything up.
_OWN_REQUEST_ANSWER = {
    NO_SESSION: {"POST": LOGIN, "*": 405},
    "aino": {"POST": 302, "*": 405},
    tuple(p for p in NOT_AINO if p != "auditor"): {"POST": 404, "*": 405},
    "auditor": {"POST": 403, "*": 405},
}

TABLE: dict[str, dict] = {
    # -- the public pages and documents
    "": {PERSONAS: GET},
    "health": {PERSONAS: GET},
    "favicon.ico": {PERSONAS: {"GET HEAD": 301, "*": 405}},
    ".well-known/mydata-operator": {PERSONAS: GET},
    ".well-known/jwks.json": {PERSONAS: GET},
    "api/schema/": {PERSONAS: {"GET HEAD OPTIONS": 200, "*": 405}},
    "api/docs/": {PERSONAS: GET},
    "i18n/setlang/": {PERSONAS: 302},
    "accounts/login/": {PERSONAS: {"GET HEAD POST PUT OPTIONS": 200, "*": 405}},
    "accounts/logout/": {PERSONAS: {"POST": 302, "OPTIONS": 200, "*": 405}},
    # -- OAuth2: the client authenticates in the body, whoever else the caller is
    "o/token/": {PERSONAS: {"POST": 400, "OPTIONS": 200, "*": 405}},
    "o/revoke_token/": {PERSONAS: {"POST": 400, "OPTIONS": 200, "*": 405}},
    # Introspection needs the `introspection` scope, which no client can be given.
    "o/introspect/": {PERSONAS: {"OPTIONS": 200, "*": 403}},
    # -- the registry API
    "api/v1/services": {
        NO_TOKEN: {"GET HEAD": 200, "POST": 401, "*": 405},
        TOKENS: {"GET HEAD": 200, "POST": 400, "*": 405},
        "auditor_api": {"GET HEAD": 200, "POST": 403, "*": 405},
    },
    "api/v1/services/<uuid:service_id> [approved]": {
        NO_TOKEN: {"GET HEAD": 200, "PATCH": 401, "*": 405},
        "auditor_api": {"GET HEAD": 200, "PATCH": 403, "*": 405},
        ("sink_api", "other_api"): {"GET HEAD": 200, "PATCH": 404, "*": 405},
        "source_api": {"GET HEAD PATCH": 200, "*": 405},
    },
    "api/v1/services/<uuid:service_id> [pending]": {
        NO_TOKEN: {"GET HEAD": 404, "PATCH": 401, "*": 405},
        "auditor_api": {"GET HEAD": 404, "PATCH": 403, "*": 405},
        ("sink_api", "other_api"): {"GET HEAD PATCH": 404, "*": 405},
        "source_api": {"GET HEAD PATCH": 200, "*": 405},
    },
    "api/v1/organisation": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        TOKENS: GET,
        "auditor_api": {"GET HEAD": 403, "*": 405},
    },
    "api/v1/organisation/services": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        TOKENS: GET,
        "auditor_api": {"GET HEAD": 403, "*": 405},
    },
    "api/v1/data-types": {PERSONAS: {"GET HEAD OPTIONS": 200, "*": 405}},
    # -- the consent API: a request is its sink's; a consent its source's and its sink's
    "api/v1/consent-requests": {
        NO_TOKEN: {"POST": 401, "*": 405},
        TOKENS: {"POST": 400, "*": 405},
        "auditor_api": {"POST": 403, "*": 405},
    },
    "api/v1/consent-requests/<uuid:request_id>": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        "auditor_api": {"GET HEAD": 403, "*": 405},
        "sink_api": GET,
        ("source_api", "other_api"): {"GET HEAD": 404, "*": 405},
    },
    "api/v1/consents": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        TOKENS: GET,
        "auditor_api": {"GET HEAD": 403, "*": 405},
    },
    "api/v1/consents/<uuid:consent_id>": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        "auditor_api": {"GET HEAD": 403, "*": 405},
        ("sink_api", "source_api"): GET,
        "other_api": {"GET HEAD": 404, "*": 405},
    },
    "api/v1/links": {
        NO_TOKEN: {"POST": 401, "*": 405},
        TOKENS: {"POST": 400, "*": 405},
        "auditor_api": {"POST": 403, "*": 405},
    },
    # -- the transfer API: a transfer is its sink's
    "api/v1/transfers": {
        NO_TOKEN: {"POST": 401, "*": 405},
        TOKENS: {"POST": 400, "*": 405},
        "auditor_api": {"POST": 403, "*": 405},
    },
    "api/v1/transfers/<uuid:transfer_id>": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        "auditor_api": {"GET HEAD": 403, "*": 405},
        "sink_api": GET,
        ("source_api", "other_api"): {"GET HEAD": 404, "*": 405},
    },
    # -- the audit API: proofs, checkpoints and keys public; receipts and signing on
    # demand for auditors' clients alone
    "api/v1/audit/checkpoints": {
        NO_TOKEN: {"GET HEAD OPTIONS": 200, "POST": 401, "*": 405},
        TOKENS: {"GET HEAD OPTIONS": 200, "POST": 403, "*": 405},
        "auditor_api": {"GET HEAD POST OPTIONS": 200, "*": 405},
    },
    "api/v1/audit/checkpoints/latest": {PERSONAS: {"GET HEAD OPTIONS": 200, "*": 405}},
    "api/v1/audit/checkpoints/<int:tree_size>": {PERSONAS: {"GET HEAD OPTIONS": 200, "*": 405}},
    "api/v1/audit/keys": {PERSONAS: {"GET HEAD OPTIONS": 200, "*": 405}},
    # No `start` and `end`: a 400 that shows the request got through.
    "api/v1/audit/bundle": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        TOKENS: {"GET HEAD": 403, "*": 405},
        "auditor_api": {"GET HEAD": 400, "*": 405},
    },
    # No `start` and `end`: a 400 that shows the request got through.
    "api/v1/audit/receipts": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        TOKENS: {"GET HEAD": 403, "*": 405},
        "auditor_api": {"GET HEAD": 400, "*": 405},
    },
    "api/v1/audit/receipts/<uuid:receipt_id>": {
        NO_TOKEN: {"GET HEAD": 401, "*": 405},
        TOKENS: {"GET HEAD": 403, "*": 405},
        "auditor_api": GET,
    },
    "api/v1/audit/receipts/<uuid:receipt_id>/inclusion": {
        PERSONAS: {"GET HEAD OPTIONS": 200, "*": 405}
    },
    # No `leaf_hash`: a 400 that shows the request got through.
    "api/v1/audit/inclusion": {PERSONAS: {"GET HEAD": 400, "OPTIONS": 200, "*": 405}},
    # No `first` and `second`: a 400 that shows the request got through.
    "api/v1/audit/consistency": {PERSONAS: {"GET HEAD": 400, "OPTIONS": 200, "*": 405}},
    # -- the resident's pages. Any logged-in user is a resident to them, providers and
    # staff too; an open request is for whoever opens it first, and then theirs alone.
    # A page answers GET and HEAD only: no other method shows it, or does anything.
    "consent/requests/<uuid:request_id> [answered]": {
        NO_SESSION: GET_LOGIN,
        "aino": GET,
        NOT_AINO: {"GET HEAD": 404, "*": 405},
    },
    "consent/requests/<uuid:request_id> [open]": {NO_SESSION: GET_LOGIN, SESSIONS: GET},
    "consent/requests/<uuid:request_id>/link [answered]": _OWN_REQUEST_ANSWER,
    "consent/requests/<uuid:request_id>/link [open]": {
        NO_SESSION: {"POST": LOGIN, "*": 405},
        NOT_AUDITOR_SESSIONS: {"POST": 302, "*": 405},
        "auditor": {"POST": 403, "*": 405},  # an auditor gives no consent and links nothing
    },
    "consent/requests/<uuid:request_id>/answer [answered]": _OWN_REQUEST_ANSWER,
    "consent/requests/<uuid:request_id>/answer [open]": {
        NO_SESSION: {"POST": LOGIN, "*": 405},
        NOT_AUDITOR_SESSIONS: {"POST": 302, "*": 405},
        "auditor": {"POST": 403, "*": 405},  # an auditor gives no consent and links nothing
    },
    # Without the code a source hands the browser, and the session that started a link,
    # nothing is linked: the page that says so, to anyone. Not HEAD: a GET here spends
    # the single-use code, and a HEAD (a link preview) must not.
    "consent/links/return": {PERSONAS: {"GET": 400, "*": 405}},
    "my/consents": {NO_SESSION: GET_LOGIN, SESSIONS: GET},
    "my/consents/<uuid:consent_id>": {
        NO_SESSION: GET_LOGIN,
        "aino": GET,
        NOT_AINO: {"GET HEAD": 404, "*": 405},
    },
    # The signed receipt as a file: Aino's own; to anyone else, as if it did not exist.
    "my/consents/<uuid:consent_id>/receipts/<uuid:receipt_id>.jws": {
        NO_SESSION: GET_LOGIN,
        "aino": GET,
        NOT_AINO: {"GET HEAD": 404, "*": 405},
    },
    "my/consents/<uuid:consent_id>/<str:action> [pause]": _OWN_CONSENT_CHANGE,
    # Resuming sets data moving again: an auditor is refused before anything is looked up.
    "my/consents/<uuid:consent_id>/<str:action> [resume]": _OWN_REQUEST_ANSWER,
    "my/consents/<uuid:consent_id>/<str:action> [withdraw]": _OWN_CONSENT_CHANGE,
    "my/consents/<uuid:consent_id>/<str:action> [delete]": {
        NO_SESSION: {"POST": LOGIN, "*": 405},
        SESSIONS: {"POST": 404, "*": 405},
    },
    "my/links/<uuid:link_id>/remove": _OWN_CONSENT_CHANGE,
    # Closing is for residents: without the confirmation ticked, the page again with a 400.
    # Staff, auditors and providers hold roles whose accounts staff close.
    "my/account/close": {
        NO_SESSION: {"GET HEAD POST": LOGIN, "*": 405},
        ("aino", "eero"): {"GET HEAD": 200, "POST": 400, "*": 405},
        ("sink_browser", "other_browser", "auditor", "staff"): {"GET HEAD POST": 403, "*": 405},
    },
    # Each resident's own data, whoever asks: there is no URL naming another's.
    "my/data": {NO_SESSION: GET_LOGIN, SESSIONS: GET},
    "my/data/export": {NO_SESSION: GET_LOGIN, SESSIONS: GET},
    # A POST without a file is refused with the reason.
    "my/data/import": {
        NO_SESSION: {"GET HEAD POST": LOGIN, "*": 405},
        SESSIONS: {"GET HEAD": 200, "POST": 400, "*": 405},
    },
    # -- the provider's page: the credential is the sink's organisation's
    "provider/": {
        NO_SESSION: LOGIN,
        ("sink_browser", "other_browser"): 200,
        NOT_PROVIDERS: 403,
    },
    "provider/credentials": {
        NO_SESSION: {"POST": LOGIN, "*": 405},
        ("sink_browser", "other_browser"): POST_ONLY,
        NOT_PROVIDERS: {"POST": 403, "*": 405},
    },
    "provider/credentials/<int:credential_id>/revoke": {
        NO_SESSION: {"POST": LOGIN, "*": 405},
        "sink_browser": {"POST": 302, "*": 405},
        "other_browser": {"POST": 404, "*": 405},
        NOT_PROVIDERS: {"POST": 403, "*": 405},
    },
    # -- a service's transparency page: public, for an approved service only
    "services/<slug:slug>/transparency [approved]": {PERSONAS: GET},
    "services/<slug:slug>/transparency [pending]": {PERSONAS: {"GET HEAD": 404, "*": 405}},
    # -- the audit pages: read-only, for auditors and staff; a token does not log in
    **{
        route: {
            NO_SESSION: {"GET HEAD": LOGIN, "*": 405},
            NOT_AUDITORS: {"GET HEAD": 403, "*": 405},
            ("auditor", "staff"): GET,
        }
        for route in (
            "audit/",
            "audit/receipts",
            "audit/receipts/<uuid:receipt_id>",
            "audit/consents/<uuid:consent_id>",
            "audit/receipts.csv",
            "audit/consents/<uuid:consent_id>.csv",
            "audit/checkpoints",
            "audit/checkpoints.csv",
            "audit/bundle",  # without a range: the form
            "audit/services",
            "audit/services.csv",
        )
    },
    # -- the admin site's own pages: staff only, but for logging in and out
    "admin/": {NOT_STAFF: ADMIN_LOGIN, "staff": 200},
    "admin/login/": {
        NOT_STAFF: {"GET HEAD POST PUT OPTIONS": 200, "*": 405},
        "staff": {"GET": 302, "HEAD POST PUT OPTIONS": 200, "*": 405},
    },
    # Not staff: sent to the admin's index, which sends them to log in.
    "admin/logout/": {NOT_STAFF: 302, "staff": {"POST": 302, "OPTIONS": 200, "*": 405}},
    "admin/password_change/": {
        NOT_STAFF: ADMIN_LOGIN,
        "staff": {"GET HEAD POST PUT OPTIONS": 200, "*": 405},
    },
    "admin/password_change/done/": {
        NOT_STAFF: ADMIN_LOGIN,
        "staff": {"GET HEAD OPTIONS": 200, "*": 405},
    },
    "admin/autocomplete/": {
        NOT_STAFF: ADMIN_LOGIN,
        "staff": {"GET HEAD": 403, "OPTIONS": 200, "*": 405},  # 403: no field named
    },
    "admin/jsi18n/": {NOT_STAFF: ADMIN_LOGIN, "staff": {"GET HEAD OPTIONS": 200, "*": 405}},
    # A consent has no page of its own on the site to be sent to.
    "admin/r/<path:content_type_id>/<path:object_id>/": {NOT_STAFF: ADMIN_LOGIN, "staff": 404},
    "admin/(?P<app_label>auth|oauth2_provider|ledger|registry|webhooks|consent|relay)/$": {
        NOT_STAFF: ADMIN_LOGIN,
        "staff": 200,
    },
    "admin/(?P<url>.*)$": {NOT_STAFF: ADMIN_LOGIN, "staff": 404},
    "admin/auth/user/<id>/password/": {NOT_STAFF: ADMIN_LOGIN, "staff": 200},
}

# -- the admin's models ---------------------------------------------------------------------

# What staff may do with each model in the admin, beyond looking: add, change, delete.
ADMIN_MODELS: dict[str, set[str]] = {
    "auth.group": {"add", "change", "delete"},
    "auth.user": {"add", "change", "delete"},
    "oauth2_provider.application": {"add", "change", "delete"},
    "oauth2_provider.accesstoken": {"change"},
    "oauth2_provider.refreshtoken": {"change"},
    "oauth2_provider.grant": {"change", "delete"},
    "oauth2_provider.idtoken": {"change", "delete"},
    "registry.provider": {"add", "change", "delete"},
    "registry.datatype": {"add", "change", "delete"},
    # Organisations are created with `manage.py provider_create`, never here.
    "registry.organisation": {"change", "delete"},
    # Staff approve and suspend services with the changelist's actions; nothing else.
    "registry.service": set(),
    # Evidence, which no one changes: the log, its keys, and what refers to them.
    "registry.auditevent": set(),
    "ledger.logentry": set(),
    "ledger.checkpoint": set(),
    "ledger.signingkey": set(),
    "webhooks.notification": set(),
    "consent.consent": set(),
    "consent.consentrequest": set(),
    "consent.receipt": set(),
    "consent.servicelink": set(),
    "relay.transfer": set(),
}


def admin_rows(label: str) -> dict[str, dict]:
    """The rows of the six patterns the admin makes for the model `label`."""
    may = ADMIN_MODELS[label]
    prefix = "admin/" + label.replace(".", "/") + "/"

    def staff(allowed: bool, *, post: bool | None = None) -> dict:
        refused = 403
        return {
            "GET": 200 if allowed else refused,
            "POST": 200 if (allowed if post is None else post) else refused,
        }

    rows = {
        "": staff(True),
        "add/": staff("add" in may),
        "<path:object_id>/history/": staff(True),
        "<path:object_id>/delete/": staff("delete" in may),
        # Staff may look at every row; only a change permission lets them send the form.
        "<path:object_id>/change/": staff(True, post="change" in may),
        "<path:object_id>/": {"GET POST": 302},  # to the change page
    }
    return {prefix + suffix: {NOT_STAFF: ADMIN_LOGIN, "staff": row} for suffix, row in rows.items()}
