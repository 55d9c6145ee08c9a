"""Background work of the tenancy app."""

from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _
from django_tasks import task


@task()
def send_invitation_email(email: str, link: str, language: str) -> None:
    """Mail an invitation link; a failure is retried by whoever re-sends the invitation."""
    with translation.override(language):
        send_mail(
            _("邀请您加入 kehu"),
            _("请打开以下链接设置密码并加入：%(link)s") % {"link": link},
            None,
            [email],
        )
