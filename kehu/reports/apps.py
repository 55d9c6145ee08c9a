from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "kehu.reports"
    label = "reports"
