from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "kehu.insights"
    label = "insights"
