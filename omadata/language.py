"""Which language a page speaks: a lasting choice before the browser's.

In this order: the language a service's link names (`?lang=sv`, kept in this
browser from then on); the one chosen with the switcher in this browser (the
language cookie, which Django's LocaleMiddleware has read already); the one a
signed-in resident chose last, from any browser; and only then the browser's
Accept-Language. The API is left alone: its clients name a language in their
requests (common.middleware.ApiLanguageMiddleware).
"""

from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.i18n import set_language

from common.middleware import API_PREFIXES
from consent import selectors, services

LANG_PARAMETER = "lang"


def _without_lang(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _known(code: str) -> str | None:
    """One of our languages for `code`: `sv`, and also `sv-FI` or `SV`, as services write it."""
    code = code.strip().lower()
    if code in dict(settings.LANGUAGES):
        return code
    primary = code.split("-", 1)[0]
    return primary if "-" in code and primary in dict(settings.LANGUAGES) else None


def _keep_in_browser(response: HttpResponse, language: str) -> None:
    # As django.views.i18n.set_language keeps the switcher's choice (whose stubs know
    # settings.LANGUAGE_COOKIE_SAMESITE only as a str).
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, language,
        max_age=settings.LANGUAGE_COOKIE_AGE, path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN, secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=cast(Any, settings.LANGUAGE_COOKIE_SAMESITE),
    )  # fmt: skip


class LanguageChoiceMiddleware:
    """After AuthenticationMiddleware: the saved preference needs to know who asks."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIXES):
            return self.get_response(request)
        asked = _known(request.GET.get(LANG_PARAMETER, ""))
        language = asked or self._saved(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if asked and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != asked:
            _keep_in_browser(response, asked)
        return response

    @staticmethod
    def _saved(request: HttpRequest) -> str | None:
        if _known(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")):
            return None  # chosen in this browser: LocaleMiddleware has it already
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return _known(selectors.language_preference(resident=user) or "")


def language_choose(request: HttpRequest) -> HttpResponse:
    """Django's set_language, which keeps the choice in this browser; a signed-in
    resident's choice is kept for their other browsers too.

    Any method, as Django's: set_language changes nothing but on a POST (a GET is only
    sent back), and so does this view."""
    response = set_language(request)
    if "Location" in response:
        # Back to the page without a `lang` a service's link gave it: that would
        # overrule the choice just made.
        response["Location"] = _without_lang(response["Location"])
    language = _known(request.POST.get("language", ""))
    if language and request.method == "POST" and request.user.is_authenticated:
        services.language_preference_set(resident=request.user, language=language)
    return response
