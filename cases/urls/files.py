"""Attachment downloads, shared by the desk and the portal: ``access`` decides who may."""

from django.urls import path

from cases.views import files

app_name = "files"

urlpatterns = [
    path("attachments/<int:pk>/<str:name>", files.attachment_download, name="attachment"),
]
