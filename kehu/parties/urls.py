from django.urls import URLPattern, URLResolver, path

from kehu.parties import views

app_name = "parties"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.party_list, name="list"),
    path("new/", views.party_new, name="new"),
    path("deleted/", views.deleted_list, name="deleted"),
    path("<int:pk>/", views.party_detail, name="detail"),
    path("<int:pk>/edit/", views.party_edit, name="edit"),
    path("<int:pk>/delete/", views.party_delete, name="delete"),
    path("<int:pk>/restore/", views.party_restore, name="restore"),
    path("<int:pk>/state/", views.party_state, name="state"),
    path("<int:pk>/history/", views.party_history, name="history"),
    path("<int:pk>/link-picker/", views.link_picker, name="link_picker"),
    path("<int:pk>/<slug:section>/add/", views.part_add, name="part_add"),
    path("<int:pk>/<slug:section>/<int:part_pk>/remove/", views.part_remove, name="part_remove"),
]
