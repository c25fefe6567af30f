from django import template

from common.correlation import request_id_current

register = template.Library()


@register.simple_tag
def request_id() -> str:
    """`{% request_id %}`: the id of the request being answered, for an error page to show.

    A tag, not a context variable: Django renders some error pages (a CSRF
    failure, a 400) without the request's context.
    """
    return request_id_current() or ""
