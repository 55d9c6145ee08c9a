from django.urls import URLPattern, URLResolver, path

from kehu.dataio import quality_views

app_name = "quality"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", quality_views.page, name="page"),
]
