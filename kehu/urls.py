from django.contrib.auth.views import LogoutView
from django.urls import include, path

from kehu.api import api
from kehu.sales import webform_views
from kehu.tenancy import views as tenancy_views

urlpatterns = [
    path("login/", tenancy_views.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("invite/<str:token>/", tenancy_views.invitation_accept, name="invitation_accept"),
    path("", include("kehu.tenancy.urls")),
    path("customers/", include("kehu.parties.urls")),
    path("imports/", include("kehu.dataio.urls")),
    path("duplicates/", include("kehu.dataio.dedup_urls")),
    path("data-quality/", include("kehu.dataio.quality_urls")),
    path("", include("kehu.activities.urls")),
    path("", include("kehu.sales.urls")),
    path("", include("kehu.pool.urls")),
    path("", include("kehu.reports.urls")),
    path("", include("kehu.insights.urls")),
    path("", include("kehu.dataio.export_urls")),
    path("insights/firm/", include("kehu.insights.firm_urls")),
    path("api/v1/", api.urls),
    # Public lead forms, embedded on firms' websites: no sign-in.
    path("f/<slug:tenant_slug>/<str:token>/", webform_views.web_form, name="web_form"),
    path(
        "f/<slug:tenant_slug>/<str:token>/thanks/",
        webform_views.web_form_thanks,
        name="web_form_thanks",
    ),
]
