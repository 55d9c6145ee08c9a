from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "kehu.tenancy"
    label = "tenancy"
