from django.urls import URLPattern, URLResolver, path

from kehu.insights import firm_views, flows_views

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
]
