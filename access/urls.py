from django.urls import path

from access import views

app_name = "access"

urlpatterns = [
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/others/end/", views.session_end_others, name="sessions-end-others"),
    path("sessions/<int:pk>/end/", views.session_end, name="session-end"),
]
