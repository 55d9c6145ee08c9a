from django.urls import URLPattern, URLResolver, path

from kehu.insights import views

app_name = "insights"
urlpatterns: list[URLPattern | URLResolver] = [
    path("insights/", views.overview, name="overview"),
    path("insights/runs/", views.run_start, name="run_start"),
    path("insights/runs/<int:pk>/", views.run_progress, name="run_progress"),
    path("insights/pyramid/", views.pyramid, name="pyramid"),
    path("insights/customers/", views.customers, name="customers"),
    path("insights/win-back/", views.win_back, name="win_back"),
    path("insights/win-back/tasks/", views.win_back_tasks, name="win_back_tasks"),
    path("insights/parties/<int:pk>/", views.party_panel, name="party_panel"),
    path("insights/parties/<int:pk>/stage/", views.stage_override, name="stage_override"),
    path("settings/insights/", views.insight_settings, name="settings"),
]
