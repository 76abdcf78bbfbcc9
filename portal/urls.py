from allauth.account import views as allauth_views
from django.urls import path, re_path, reverse_lazy

from portal import views

app_name = "portal"

# Sign-in and password pages are allauth's own views, wearing the portal's templates.
auth_patterns = [
    path(
        "login/",
        allauth_views.LoginView.as_view(template_name="portal/auth/login.html"),
        name="login",
    ),
    path(
        "logout/",
        allauth_views.LogoutView.as_view(template_name="portal/auth/logout.html"),
        name="logout",
    ),
    path(
        "password/reset/",
        allauth_views.PasswordResetView.as_view(
            template_name="portal/auth/password_reset.html",
            success_url=reverse_lazy("portal:password-reset-done"),
        ),
        name="password-reset",
    ),
    path(
        "password/reset/done/",
        allauth_views.PasswordResetDoneView.as_view(
            template_name="portal/auth/password_reset_done.html"
        ),
        name="password-reset-done",
    ),
    re_path(
        r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        allauth_views.PasswordResetFromKeyView.as_view(
            template_name="portal/auth/password_reset_from_key.html",
            success_url=reverse_lazy("portal:login"),
        ),
        name="password-reset-key",
    ),
    path(
        "password/change/",
        allauth_views.PasswordChangeView.as_view(
            template_name="portal/auth/password_change.html",
            success_url=reverse_lazy("portal:profile"),
        ),
        name="password-change",
    ),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_create, name="case-create"),
    path("cases/<str:number>/", views.case_detail, name="case-detail"),
    path("cases/<str:number>/reply/", views.case_reply, name="case-reply"),
    path("cases/<str:number>/close/", views.case_close, name="case-close"),
    path("cases/<str:number>/reopen/", views.case_reopen, name="case-reopen"),
    path("cases/<str:number>/rate/", views.case_rate_view, name="case-rate"),
    path("profile/", views.profile, name="profile"),
    path("logo/", views.logo, name="logo"),
    path("profile/email/", views.email_change, name="email-change"),
    path("profile/email/<str:token>/", views.email_confirm, name="email-confirm"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path(
        "contacts/<int:contact_id>/invitation/send/",
        views.invitation_send,
        name="invitation-send",
    ),
    path(
        "contacts/<int:contact_id>/invitation/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("register/", views.register, name="register"),
    path("register/<str:token>/", views.register_complete, name="register-complete"),
    *auth_patterns,
]
