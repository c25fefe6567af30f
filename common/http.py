"""Types of requests, for annotations: what Django has checked before a view runs."""

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request past `login_required` or the admin's login: its user is signed in.

    Only for annotations: Django still passes its own request object, whose
    `user` the decorator has checked. The project uses Django's own User model.
    """

    user: "User"
