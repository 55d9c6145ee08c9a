from django.urls import URLPattern, URLResolver, path

from kehu.dataio import views

app_name = "dataio"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.import_list, name="list"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/template/", views.template_save, name="template"),
    path("<int:pk>/start/", views.import_start, name="start"),
    path("<int:pk>/resume/", views.import_resume, name="resume"),
    path("<int:pk>/progress/", views.import_progress, name="progress"),
    path("<int:pk>/errors.csv", views.import_errors, name="errors"),
]
