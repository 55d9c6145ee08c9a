from django.urls import URLPattern, URLResolver, path

from kehu.reports import views

app_name = "reports"
urlpatterns: list[URLPattern | URLResolver] = [
    path("reports/", views.index, name="index"),
    path("reports/<slug:slug>/", views.report, name="report"),
]
