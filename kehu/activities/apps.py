from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "kehu.activities"
    label = "activities"

    def ready(self) -> None:
        from kehu.activities.handover import OpenTasks
        from kehu.tenancy.handover import register

        register(OpenTasks())
