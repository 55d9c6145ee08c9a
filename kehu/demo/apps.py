from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo firm (演示公司) and the data generator that also feeds the benchmarks."""

    name = "kehu.demo"
    label = "demo"
    verbose_name = "演示数据"
