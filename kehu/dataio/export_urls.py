from django.urls import URLPattern, URLResolver, path

from kehu.dataio import backup_views, export_views

app_name = "exports"
urlpatterns: list[URLPattern | URLResolver] = [
    path("exports/<slug:slug>.<str:file_format>", export_views.export, name="download"),
    path("settings/backups/", backup_views.backup_list, name="backups"),
    path("settings/backups/new/", backup_views.backup_new, name="backup_new"),
    path("settings/backups/restore/", backup_views.restore_upload, name="restore"),
    path(
        "settings/backups/<int:pk>/download/", backup_views.backup_download, name="backup_download"
    ),
]
