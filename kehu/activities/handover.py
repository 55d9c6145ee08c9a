"""A colleague's open tasks, for handover (registered in apps.py)."""

from django.utils.translation import gettext_lazy as _

from kehu.activities import services
from kehu.activities.models import Task, TaskStatus
from kehu.tenancy.handover import Holding
from kehu.tenancy.models import User


class OpenTasks:
    key = "task"
    label = _("待办任务")

    def _open(self, user: User) -> "list[Task]":
        return list(Task.objects.filter(assignee=user, status=TaskStatus.OPEN).order_by("id"))

    def holdings(self, user: User) -> list[Holding]:
        return [Holding(self.key, t.pk, t.title, t.party_id) for t in self._open(user)]

    def count(self, user: User) -> int:
        return Task.objects.filter(assignee=user, status=TaskStatus.OPEN).count()

    def transfer(self, *, actor: User, holding: Holding, receiver: User, note: str) -> None:
        task = Task.objects.select_related("party").get(pk=holding.pk)
        services.task_hand_over(actor=actor, task=task, receiver=receiver, note=note)
