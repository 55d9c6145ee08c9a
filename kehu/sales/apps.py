from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "kehu.sales"
    label = "sales"

    def ready(self) -> None:
        from kehu.sales.handover import OpenLeads, OpenOpportunities
        from kehu.tenancy.handover import register

        register(OpenOpportunities())
        register(OpenLeads())
