"""Outsiders on every desk URL and every related-object URL: nothing is served or leaked."""

import pytest
from django.urls import reverse

from tests.access.conftest import public_file


def _urls(case):
    activity = case.activities.get()
    attachment = public_file(case)
    gets = [
        reverse("desk:case-list"),
        reverse("desk:case-create"),
        reverse("desk:case-detail", args=[case.number]),
        reverse("desk:account-list"),
        reverse("desk:account-create"),
        reverse("desk:account-detail", args=[case.account_id]),
        reverse("desk:account-edit", args=[case.account_id]),
        reverse("desk:contact-list"),
        reverse("desk:contact-create"),
        reverse("desk:contact-detail", args=[case.contact_id]),
        reverse("desk:contact-edit", args=[case.contact_id]),
        reverse("files:attachment", args=[attachment.pk, attachment.original_name]),
        reverse("access:sessions"),
    ]
    posts = [
        reverse("desk:case-bulk"),
        reverse("desk:case-edit", args=[case.number]),
        reverse("desk:case-status", args=[case.number]),
        reverse("desk:case-assign", args=[case.number]),
        reverse("desk:case-comment", args=[case.number]),
        reverse("desk:case-attach", args=[case.number]),
        reverse("desk:case-activity", args=[case.number]),
        reverse("desk:activity-complete", args=[activity.pk]),
        reverse("access:sessions-end-others"),
    ]
    return gets, posts


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in_everywhere(client, make_case, agent, customer):
    case = make_case(owner=agent, contact=customer.contact)
    gets, posts = _urls(case)
    for url in gets:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url
    for url in posts:
        response = client.post(url, {"subject": "x", "status": "closed", "body": "x"})
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url
    case.refresh_from_db()
    assert case.status == "new"
    assert case.comments.count() == 2


@pytest.mark.django_db
def test_portal_users_get_nothing_from_the_desk(client, make_case, agent, customer):
    case = make_case(owner=agent, contact=customer.contact)  # even their own case
    gets, posts = _urls(case)
    client.force_login(customer)
    portal = reverse("portal:home")
    for url in gets[:-2]:
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, portal), url
    for url in posts[:-1]:
        response = client.post(url, {"status": "closed", "body": "x"})
        assert (response.status_code, response["Location"]) == (302, portal), url
    case.refresh_from_db()
    assert case.status == "new"


@pytest.mark.django_db
def test_staff_out_of_reach_get_404_on_every_case_and_related_url(
    client, make_case, restricted_agent, other_agent, other_queue, customer
):
    case = make_case(owner=other_agent, contact=customer.contact, queue=other_queue)
    gets, posts = _urls(case)
    case_urls = [u for u in gets + posts if case.number in u or "/activities/" in u]
    case_urls.append(gets[-2])  # the attachment
    client.force_login(restricted_agent)
    for url in case_urls:
        method = client.post if url in posts else client.get
        response = method(url, {"status": "closed", "body": "x", "to": "me"})
        assert response.status_code == 404, url
        assert case.subject not in response.content.decode()
    case.refresh_from_db()
    assert (case.status, case.owner_id) == ("new", other_agent.pk)


@pytest.mark.django_db
def test_admin_sign_in_goes_through_allauth(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_bulk_actions_need_the_bulk_permission(client, restricted_agent, agent):
    from cases.models import Case
    from tests.factories import CaseFactory

    case = CaseFactory(owner=restricted_agent)
    client.force_login(restricted_agent)
    page = client.get(reverse("desk:case-list"))
    assert 'class="bulk-bar"' not in page.content.decode()
    response = client.post(
        reverse("desk:case-bulk"),
        {"action": "status", "numbers": [case.number], "status": "closed"},
    )
    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).status == "new"
    client.force_login(agent)
    assert 'class="bulk-bar"' in client.get(reverse("desk:case-list")).content.decode()
