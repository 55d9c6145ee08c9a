from django.urls import URLPattern, URLResolver, path

from kehu.insights import balance_views, firm_views, flows_views

app_name = "insights_firm"
urlpatterns: list[URLPattern | URLResolver] = [
    path("pareto/", firm_views.pareto, name="pareto"),
    # Movement between two scoring runs (flows_views).
    path("migration/", flows_views.migration, name="migration"),
    path("migration/customers/", flows_views.migration_customers, name="migration_customers"),
    path("lifecycle-flows/", flows_views.lifecycle_flows, name="lifecycle_flows"),
    path(
        "lifecycle-flows/customers/",
        flows_views.lifecycle_customers,
        name="lifecycle_customers",
    ),
    path("balance-sheet/", balance_views.balance_sheet, name="balance_sheet"),
    path("planned-spend/", balance_views.planned_spend, name="planned_spend"),
    path("planned-spend/<int:pk>/", balance_views.planned_spend_edit, name="planned_spend_edit"),
    path(
        "planned-spend/<int:pk>/delete/",
        balance_views.planned_spend_delete,
        name="planned_spend_delete",
    ),
]
