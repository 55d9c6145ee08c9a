from django.apps import AppConfig


class DataioConfig(AppConfig):
    name = "kehu.dataio"
    label = "dataio"
