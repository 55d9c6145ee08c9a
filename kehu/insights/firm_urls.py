from django.urls import URLPattern, URLResolver, path

from kehu.insights import firm_views

app_name = "insights_firm"
urlpatterns: list[URLPattern | URLResolver] = [
    path("pareto/", firm_views.pareto, name="pareto"),
]
