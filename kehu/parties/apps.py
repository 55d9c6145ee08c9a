from django.apps import AppConfig


class PartiesConfig(AppConfig):
    name = "kehu.parties"
    label = "parties"
