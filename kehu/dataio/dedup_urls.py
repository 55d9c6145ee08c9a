from django.urls import URLPattern, URLResolver, path

from kehu.dataio import dedup_views

app_name = "duplicates"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", dedup_views.queue, name="queue"),
    path("scan/", dedup_views.scan, name="scan"),
    path("<int:pk>/", dedup_views.candidate, name="candidate"),
    path("<int:pk>/dismiss/", dedup_views.dismiss, name="dismiss"),
    path("merges/<int:pk>/undo/", dedup_views.undo, name="undo"),
]
