import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases import services
from cases.models import Activity, Case, CaseComment
from tests.factories import AccountFactory, CaseFactory, ContactFactory, UserFactory


@pytest.fixture
def case(agent, customer):
    return services.case_create(
        actor=agent,
        subject="VPN drops hourly",
        description="Since Monday.",
        contact=customer.contact,
    )


def desk_urls(case):
    return [
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
    ]


@pytest.mark.django_db
def test_every_desk_page_renders_for_an_agent(client, agent, case):
    client.force_login(agent)
    for url in desk_urls(case):
        response = client.get(url)
        assert response.status_code == 200, url


@pytest.mark.django_db
def test_anonymous_user_is_sent_to_sign_in(client, case):
    for url in desk_urls(case):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("account_login")), url


@pytest.mark.django_db
def test_non_staff_user_without_portal_access_is_refused(client, case):
    stranger = UserFactory(email="stranger@example.test")
    client.force_login(stranger)
    for url in desk_urls(case):
        assert client.get(url).status_code == 403, url


@pytest.mark.django_db
def test_portal_user_is_sent_to_the_portal(client, customer, case):
    client.force_login(customer)
    for url in desk_urls(case):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == reverse("portal:home"), url


@pytest.mark.django_db
def test_case_list_filters_and_search(client, agent, other_agent):
    mine = CaseFactory(subject="Billing export broken", owner=agent, priority="urgent")
    theirs = CaseFactory(subject="Password reset", owner=other_agent)
    unassigned = CaseFactory(subject="Invoice copy", status=Case.Status.NEW)
    closed = CaseFactory(subject="Old thing", status=Case.Status.CLOSED)
    client.force_login(agent)

    def numbers(**params):
        response = client.get(reverse("desk:case-list"), params)
        return {c.number for c in response.context["cases"]}

    assert numbers(view="my_open") == {mine.number}
    assert numbers(view="unassigned") == {unassigned.number}
    assert closed.number not in numbers(view="all_open")
    assert numbers(view="", status_category="closed") == {closed.number}
    assert numbers(view="", priority="urgent") == {mine.number}
    assert numbers(view="", owner=str(other_agent.pk)) == {theirs.number}
    assert numbers(view="", q="billing") == {mine.number}
    assert numbers(view="", q=mine.number.lstrip("0")) == {mine.number}
    assert numbers(view="", q=mine.contact.email) == {mine.number}


@pytest.mark.django_db
def test_case_list_htmx_request_returns_the_partial(client, agent):
    CaseFactory()
    client.force_login(agent)
    response = client.get(reverse("desk:case-list"), {"view": "all_open"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b"case" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("count", [50, 500])
def test_case_list_costs_a_fixed_number_of_queries(
    client, agent, count, django_assert_max_num_queries
):
    contact = ContactFactory(account=AccountFactory())
    CaseFactory.create_batch(count, contact=contact, owner=agent)
    client.force_login(agent)
    client.get(reverse("desk:case-list"))  # warm the session
    with django_assert_max_num_queries(8):
        response = client.get(reverse("desk:case-list"))
    assert len(response.context["cases"]) == 50


@pytest.mark.django_db
def test_case_detail_costs_a_fixed_number_of_queries(
    client, agent, case, django_assert_max_num_queries
):
    for i in range(30):
        services.comment_add(actor=agent, case=case, body=f"note {i}", is_public=bool(i % 2))
    client.force_login(agent)
    with django_assert_max_num_queries(20):
        assert client.get(reverse("desk:case-detail", args=[case.number])).status_code == 200


@pytest.mark.django_db
def test_create_case_for_a_contact(client, agent, customer):
    client.force_login(agent)
    contact = customer.contact
    page = client.get(reverse("desk:case-create"), {"contact": contact.pk})
    assert contact.email in page.content.decode()
    response = client.post(
        reverse("desk:case-create"),
        {
            "contact": contact.email,
            "subject": "Phone call: printer",
            "description": "Jammed",
            "priority": "high",
            "type": "problem",
            "origin": "phone",
        },
    )
    case = Case.objects.get(subject="Phone call: printer")
    assert response.status_code == 302
    assert response.url == reverse("desk:case-detail", args=[case.number])
    assert case.origin == Case.Origin.PHONE
    assert case.account == contact.account


@pytest.mark.django_db
def test_create_case_form_shows_clear_errors_and_saves_nothing(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-create"),
        {
            "contact": "nobody@nowhere.test",
            "subject": "",
            "priority": "high",
            "type": "problem",
            "origin": "phone",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body
    assert "No contact with that email" in body
    assert not Case.objects.exists()


@pytest.mark.django_db
def test_reply_note_status_and_assign_from_the_case_page(client, agent, case):
    client.force_login(agent)
    url = reverse("desk:case-comment", args=[case.number])
    client.post(url, {"body": "We are on it.", "visibility": "public"})
    client.post(url, {"body": "Looks like the firewall.", "visibility": "internal"})
    client.post(reverse("desk:case-assign", args=[case.number]), {"to": "me"})
    client.post(
        reverse("desk:case-status", args=[case.number]), {"status": Case.Status.WAITING_ON_CUSTOMER}
    )
    case.refresh_from_db()
    assert case.owner == agent
    assert case.status == Case.Status.WAITING_ON_CUSTOMER
    assert case.first_response_at is not None
    assert list(case.comments.values_list("is_public", flat=True)) == [True, False]
    page = client.get(reverse("desk:case-detail", args=[case.number])).content.decode()
    assert "We are on it." in page
    assert "Looks like the firewall." in page
    assert "Internal note" in page


@pytest.mark.django_db
def test_invalid_status_change_shows_an_error_and_changes_nothing(client, agent, case):
    services.case_change_status(actor=agent, case=case, status=Case.Status.CLOSED)
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-status", args=[case.number]),
        {"status": Case.Status.ESCALATED},
        follow=True,
    )
    assert "cannot go from Closed to Escalated" in response.content.decode()
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED


@pytest.mark.django_db
def test_edit_case_details(client, agent, case):
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-edit", args=[case.number]),
        {
            "subject": "VPN drops every hour",
            "description": "Since Monday.",
            "priority": "urgent",
            "type": "incident",
            "parent": "",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.subject, case.priority, case.type) == (
        "VPN drops every hour",
        "urgent",
        "incident",
    )
    fields = set(case.events.filter(kind="field_changed").values_list("field", flat=True))
    assert fields == {"subject", "priority", "type"}


@pytest.mark.django_db
def test_add_and_complete_a_follow_up(client, agent, case):
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-activity", args=[case.number]),
        {
            "kind": "follow_up",
            "subject": "Call back",
            "due_at": "2031-01-02T10:00",
        },
    )
    assert response.status_code == 302
    activity = Activity.objects.get(case=case)
    assert activity.owner == agent
    client.post(reverse("desk:activity-complete", args=[activity.pk]))
    activity.refresh_from_db()
    assert activity.done_at is not None


@pytest.mark.django_db
def test_meeting_without_start_is_refused_with_a_message(client, agent, case):
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-activity", args=[case.number]),
        {"kind": "meeting", "subject": "Kick-off"},
    )
    assert response.status_code == 400
    assert "Meetings and calls need a start time." in response.content.decode()
    assert not Activity.objects.exists()


@pytest.mark.django_db
def test_bulk_assign_and_status(client, agent, other_agent):
    cases = CaseFactory.create_batch(3)
    client.force_login(agent)
    numbers = [c.number for c in cases]
    client.post(
        reverse("desk:case-bulk"),
        {"action": "assign", "numbers": numbers, "owner": str(agent.pk)},
    )
    assert set(Case.objects.values_list("owner", flat=True)) == {agent.pk}
    client.post(
        reverse("desk:case-bulk"),
        {"action": "status", "numbers": numbers[:2], "status": "resolved"},
    )
    assert Case.objects.filter(status="resolved").count() == 2


@pytest.mark.django_db
def test_reply_with_attachment_from_the_desk(client, agent, case):
    client.force_login(agent)
    upload = SimpleUploadedFile("log.txt", b"line one\nline two\n", content_type="image/png")
    client.post(
        reverse("desk:case-comment", args=[case.number]),
        {"body": "Log attached", "visibility": "public", "files": [upload]},
    )
    comment = CaseComment.objects.get(case=case)
    attachment = comment.attachments.get()
    assert attachment.content_type == "text/plain"  # sniffed, not the client's claim
    assert attachment.size == 18


@pytest.mark.django_db
def test_accounts_and_contacts_create_edit_and_search(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("desk:account-create"),
        {
            "name": "Initech",
            "tier": "premium",
            "domains": "initech.test\n@Initech.io",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    from accounts.models import Account, Contact

    account = Account.objects.get(name="Initech")
    assert sorted(account.domains.values_list("domain", flat=True)) == [
        "initech.io",
        "initech.test",
    ]
    response = client.post(
        reverse("desk:contact-create"),
        {
            "account": account.pk,
            "first_name": "Peter",
            "last_name": "Gibbons",
            "email": "Peter@Initech.test",
            "timezone": "Europe/Berlin",
            "portal_role": "user",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.email == "peter@initech.test"
    duplicate = client.post(
        reverse("desk:contact-create"),
        {
            "account": account.pk,
            "email": "peter@initech.test",
            "timezone": "UTC",
            "portal_role": "user",
        },
    )
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.content.decode()
    assert (
        "Initech" in client.get(reverse("desk:account-list"), {"q": "initech.io"}).content.decode()
    )
    assert "Gibbons" in client.get(reverse("desk:contact-list"), {"q": "gibb"}).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("per_account", [1, 20])
def test_account_list_costs_a_fixed_number_of_queries(
    client, agent, per_account, django_assert_max_num_queries
):
    for account in AccountFactory.create_batch(5):
        contact = ContactFactory(account=account)
        CaseFactory.create_batch(per_account, contact=contact)
    client.force_login(agent)
    client.get(reverse("desk:account-list"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("desk:account-list"))
    shown = {a.name: (a.open_cases, a.contact_count) for a in response.context["page"]}
    assert all(counts == (per_account, 1) for counts in shown.values())
