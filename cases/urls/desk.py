from django.urls import path

from cases.views import accounts, case_detail, case_list

app_name = "desk"

urlpatterns = [
    path("", case_list.case_list, name="case-list"),
    path("cases/bulk/", case_list.case_bulk, name="case-bulk"),
    path("cases/new/", case_detail.case_create, name="case-create"),
    path("cases/<str:number>/", case_detail.case_detail, name="case-detail"),
    path("cases/<str:number>/edit/", case_detail.case_edit, name="case-edit"),
    path("cases/<str:number>/status/", case_detail.case_status, name="case-status"),
    path("cases/<str:number>/assign/", case_detail.case_assign, name="case-assign"),
    path("cases/<str:number>/comments/", case_detail.case_comment, name="case-comment"),
    path("cases/<str:number>/attachments/", case_detail.case_attach, name="case-attach"),
    path("cases/<str:number>/activities/", case_detail.case_activity, name="case-activity"),
    path("activities/<int:pk>/complete/", case_detail.activity_done, name="activity-complete"),
    path("accounts/", accounts.account_list, name="account-list"),
    path("accounts/new/", accounts.account_create, name="account-create"),
    path("accounts/<int:pk>/", accounts.account_detail, name="account-detail"),
    path("accounts/<int:pk>/edit/", accounts.account_edit, name="account-edit"),
    path("contacts/", accounts.contact_list, name="contact-list"),
    path("contacts/new/", accounts.contact_create, name="contact-create"),
    path("contacts/<int:pk>/", accounts.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", accounts.contact_edit, name="contact-edit"),
]
