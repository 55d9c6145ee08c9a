from django.urls import URLPattern, URLResolver, path

from kehu.tenancy import views

app_name = "tenancy"
urlpatterns: list[URLPattern | URLResolver] = [
    path("language/", views.language, name="language"),
    path("no-tenant/", views.no_tenant, name="no_tenant"),
    path("settings/staff/", views.staff, name="staff"),
    path("settings/staff/<int:pk>/", views.staff_edit, name="staff_edit"),
    path(
        "settings/staff/invitations/<int:pk>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("settings/handover/<int:pk>/", views.handover, name="handover"),
    path("settings/teams/", views.teams, name="teams"),
    path("settings/teams/<int:pk>/", views.team, name="team"),
    path("settings/teams/<int:pk>/rename/", views.team_rename, name="team_rename"),
    path("settings/teams/<int:pk>/delete/", views.team_delete, name="team_delete"),
    path("settings/teams/<int:pk>/members/", views.team_member_add, name="team_member_add"),
    path(
        "settings/teams/<int:pk>/members/<int:user_pk>/remove/",
        views.team_member_remove,
        name="team_member_remove",
    ),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
