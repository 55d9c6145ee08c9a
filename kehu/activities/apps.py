from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "kehu.activities"
    label = "activities"
