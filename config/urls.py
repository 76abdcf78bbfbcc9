from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="desk:case-list", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("security/", include("access.urls")),
    path("desk/", include("cases.urls.desk")),
    path("portal/", include("portal.urls")),
    path("", include("cases.urls.files")),
    path("", include("cases.intake.urls")),
]
