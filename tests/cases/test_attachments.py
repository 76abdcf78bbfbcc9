import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases import services
from lib.errors import AttachmentRejected

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def case(agent, customer):
    return services.case_create(actor=agent, subject="Screen flickers", contact=customer.contact)


def download_url(attachment):
    return reverse("files:attachment", args=[attachment.pk, attachment.original_name])


@pytest.mark.django_db
def test_type_is_sniffed_from_the_bytes_and_hash_recorded(agent, case):
    upload = SimpleUploadedFile("photo.txt", PNG, content_type="text/html")
    attachment = services.attachment_add(actor=agent, case=case, upload=upload)
    assert attachment.content_type == "image/png"
    assert attachment.size == len(PNG)
    assert len(attachment.sha256) == 64
    assert attachment.original_name == "photo.txt"
    assert case.events.filter(kind="attachment_added").count() == 1


@pytest.mark.django_db
def test_oversized_file_is_refused_with_a_clear_error(agent, case, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    upload = SimpleUploadedFile("big.bin", b"x" * 2048)
    with pytest.raises(AttachmentRejected, match=r"big.bin is 0.0 MB; the limit is 0.0 MB"):
        services.attachment_add(actor=agent, case=case, upload=upload)
    assert not case.attachments.exists()


@pytest.mark.django_db
def test_oversized_file_in_the_desk_shows_the_limit_and_saves_nothing(
    client, agent, case, settings
):
    settings.ATTACHMENT_MAX_BYTES = 10
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-attach", args=[case.number]),
        {"files": [SimpleUploadedFile("notes.txt", b"far more than ten bytes")]},
        follow=True,
    )
    assert "the limit is" in response.content.decode()
    assert not case.attachments.exists()


@pytest.mark.django_db
def test_reply_with_oversized_file_saves_neither_reply_nor_file(client, agent, case, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-comment", args=[case.number]),
        {
            "body": "see file",
            "visibility": "public",
            "files": [SimpleUploadedFile("notes.txt", b"far more than ten bytes")],
        },
    )
    assert response.status_code == 400
    assert not case.comments.exists()
    assert not case.attachments.exists()


@pytest.mark.django_db
def test_safe_image_is_shown_inline_with_nosniff(client, agent, case):
    attachment = services.attachment_add(
        actor=agent, case=case, upload=SimpleUploadedFile("shot.png", PNG)
    )
    client.force_login(agent)
    response = client.get(download_url(attachment))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == PNG


@pytest.mark.django_db
def test_html_is_always_downloaded_never_rendered(client, agent, case):
    html = b"<html><script>alert(1)</script></html>"
    attachment = services.attachment_add(
        actor=agent, case=case, upload=SimpleUploadedFile("page.html", html, "text/html")
    )
    client.force_login(agent)
    response = client.get(download_url(attachment))
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_download_is_404_for_outsiders_and_sign_in_for_anonymous(
    client, agent, case, other_customer
):
    attachment = services.attachment_add(
        actor=agent, case=case, upload=SimpleUploadedFile("a.txt", b"secret")
    )
    url = download_url(attachment)
    assert client.get(url).status_code == 302
    client.force_login(other_customer)
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_case_contact_can_download_public_but_not_internal_files(client, agent, case, customer):
    public = services.attachment_add(
        actor=agent, case=case, upload=SimpleUploadedFile("public.txt", b"hello")
    )
    internal = services.attachment_add(
        actor=agent,
        case=case,
        upload=SimpleUploadedFile("internal.txt", b"notes"),
        is_public=False,
    )
    client.force_login(customer)
    assert client.get(download_url(public)).status_code == 200
    assert client.get(download_url(internal)).status_code == 404
