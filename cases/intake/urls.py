from django.urls import path

from cases.intake import views

app_name = "intake"

urlpatterns = [
    path("inbound/email/", views.inbound_email, name="inbound-email"),
]
