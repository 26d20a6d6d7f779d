"""Template tags for the desk's queues and notices: each role's lists on the home page, the unread count."""

from django import template

from verify.desk import home
from verify.notices.models import Notice

register = template.Library()


@register.inclusion_tag("admin/verify/home_sections.html", takes_context=True)
def home_sections(context) -> dict:
    request = context["request"]
    return {"sections": home.sections_for(request.user), "request": request, "csrf_token": context.get("csrf_token")}


@register.simple_tag(takes_context=True)
def unread_notices(context) -> int:
    user = context["request"].user
    if not user.is_authenticated:
        return 0
    return Notice.objects.filter(recipient=user, read_at__isnull=True).count()
