from django.urls import URLPattern, URLResolver, path

from kehu.pool import views

app_name = "pool"
urlpatterns: list[URLPattern | URLResolver] = [
    path("pool/", views.pool_list, name="list"),
    path("pool/<int:pk>/claim/", views.claim, name="claim"),
    path("pool/<int:pk>/assign/", views.assign, name="assign"),
    path("pool/<int:pk>/release/", views.release, name="release"),
    path("settings/pool/", views.pool_rule, name="rule"),
    path("settings/pool/sweep/", views.sweep_now, name="sweep"),
]
