from django.urls import include, path

from kehu.api import api

urlpatterns = [
    path("", include("kehu.tenancy.urls")),
    path("customers/", include("kehu.parties.urls")),
    path("", include("kehu.activities.urls")),
    path("api/v1/", api.urls),
]
