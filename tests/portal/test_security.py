"""Outsiders, field-level security, stored XSS, redirects, CSRF and query counts."""

from html.parser import HTMLParser

import pytest
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import selectors, services
from cases.models import Attachment, Case, CaseComment
from tests.factories import PASSWORD, ActivityFactory, CaseFactory
from tests.portal.conftest import upload

XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def _case_for(user, **kw):
    return services.case_create(
        actor=user,
        subject=kw.pop("subject", "A case"),
        description=kw.pop("description", "Text"),
        contact=user.contact,
        origin=Case.Origin.PORTAL,
        **kw,
    )


# -- outsiders -----------------------------------------------------------------------------


@pytest.fixture
def foreign_case(other_customer, agent):
    case = _case_for(other_customer, subject="Globex secret plans")
    services.comment_add(
        actor=agent, case=case, body="Globex reply", is_public=True, files=[upload("globex.png")]
    )
    ActivityFactory(case=case)
    return case


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("portal:case-detail", "get"),
        ("portal:case-reply", "post"),
        ("portal:case-close", "post"),
        ("portal:case-reopen", "post"),
        ("portal:case-rate", "post"),
    ],
)
def test_another_accounts_case_is_404_on_every_url(customer_client, foreign_case, name, method):
    url = reverse(name, args=[foreign_case.number])
    response = getattr(customer_client, method)(url, {"body": "hi", "rating": "5"})
    assert response.status_code == 404
    assert b"Globex" not in response.content
    foreign_case.refresh_from_db()
    assert foreign_case.status == Case.Status.NEW
    assert foreign_case.comments.count() == 1


def test_missing_case_and_foreign_case_answer_the_same(customer_client, foreign_case):
    missing = customer_client.get(reverse("portal:case-detail", args=["99999999"]))
    foreign = customer_client.get(reverse("portal:case-detail", args=[foreign_case.number]))
    assert missing.status_code == foreign.status_code == 404


def test_another_accounts_attachment_comment_and_activity_are_404(
    customer_client, customer, foreign_case
):
    attachment = Attachment.objects.get(case=foreign_case)
    response = customer_client.get(
        reverse("files:attachment", args=[attachment.pk, attachment.original_name])
    )
    assert response.status_code == 404
    with pytest.raises(Http404):
        selectors.attachment_get_for_user(user=customer, pk=attachment.pk)
    with pytest.raises(Http404):
        selectors.activity_get_for_user(user=customer, pk=foreign_case.activities.get().pk)
    own = _case_for(customer)
    comments = [
        e.item for e in selectors.case_timeline(user=customer, case=own) if e.kind == "comment"
    ]
    assert comments == []
    # The comment's case is out of reach, so the timeline of the foreign case is empty too.
    foreign_entries = selectors.case_timeline(user=customer, case=foreign_case)
    assert foreign_entries == []


def test_own_activities_never_shown_to_customers(customer_client, customer):
    case = _case_for(customer)
    ActivityFactory(case=case, subject="Call the customer about refund ACT-123")
    page = customer_client.get(reverse("portal:case-detail", args=[case.number]))
    assert b"ACT-123" not in page.content
    with pytest.raises(Http404):
        selectors.activity_get_for_user(user=customer, pk=case.activities.get().pk)


def test_internal_note_files_absent_from_files_list(customer_client, customer, agent):
    case = _case_for(customer)
    services.comment_add(
        actor=agent, case=case, body="note", is_public=False, files=[upload("internal.png")]
    )
    services.attachment_add(
        actor=agent, case=case, upload=upload("also-internal.png"), is_public=False
    )
    page = customer_client.get(reverse("portal:case-detail", args=[case.number])).content
    assert b"internal.png" not in page
    assert b"also-internal.png" not in page
    assert b"note" not in page.split(b"Conversation")[1].split(b"Reply")[0]


# -- field-level security ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", "urgent"),
        ("type", "incident"),
        ("status", "closed"),
        ("owner", "1"),
        ("queue", "1"),
        ("origin", "api"),
    ],
)
def test_crafted_post_of_a_field_the_customer_may_not_set_saves_nothing(
    customer_client, field, value
):
    response = customer_client.post(
        reverse("portal:case-create"),
        {"subject": "Crafted", "description": "x", field: value},
    )
    assert response.status_code == 400
    assert f"You may not set: {field}" in response.content.decode()
    assert not Case.objects.filter(subject="Crafted").exists()


def test_read_only_field_sent_with_its_default_is_ignored(customer_client):
    response = customer_client.post(
        reverse("portal:case-create"),
        {"subject": "Harmless", "description": "x", "priority": "medium"},
    )
    assert response.status_code == 302
    assert Case.objects.get(subject="Harmless").priority == "medium"


def test_priority_offered_only_when_fls_makes_it_editable(customer_client, monkeypatch):
    from access import policy

    page = customer_client.get(reverse("portal:case-create")).content.decode()
    assert 'name="priority"' not in page
    real = policy.editable_fields
    monkeypatch.setattr(
        policy,
        "editable_fields",
        lambda user, obj, fields: (
            tuple(f for f in fields if f in ("priority", "type"))
            if obj == "case"
            else real(user, obj, fields)
        ),
    )
    page = customer_client.get(reverse("portal:case-create")).content.decode()
    assert 'name="priority"' in page
    customer_client.post(
        reverse("portal:case-create"),
        {"subject": "Urgent one", "description": "x", "priority": "high", "type": "incident"},
    )
    case = Case.objects.get(subject="Urgent one")
    assert (case.priority, case.type) == ("high", "incident")


# -- stored XSS ------------------------------------------------------------------------------------


class _TagAudit(HTMLParser):
    """Collect what a browser would treat as live markup."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src") and (value or "").strip().lower().startswith(
                ("javascript:", "data:")
            ):
                self.problems.append(f"<{tag} {name}={value}>")
        if tag in ("iframe", "object", "embed"):
            self.problems.append(f"<{tag}>")
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script and "alert" in data:
            self.problems.append("script with alert")

    def handle_endtag(self, tag):
        self._in_script = False


def _assert_inert(html: str) -> None:
    audit = _TagAudit()
    audit.feed(html)
    assert audit.problems == []


def test_stored_xss_in_subject_description_reply_and_file_name_is_inert(
    customer_client, customer, agent
):
    description = (
        f"{XSS}\n\n[click me](javascript:alert(1)) and [ok](https://example.test)\n\n"
        '<a href="javascript:alert(2)">raw</a> <iframe src=//evil.test></iframe>'
    )
    customer_client.post(
        reverse("portal:case-create"),
        {
            "subject": XSS,
            "description": description,
            "files": [upload('"><img src=x onerror=alert(1)>.png')],
        },
    )
    case = Case.objects.get(subject=XSS)
    services.comment_add(actor=agent, case=case, body=f"Agent says {XSS}", is_public=True)
    customer_client.post(reverse("portal:case-reply", args=[case.number]), {"body": XSS})
    for url in (
        reverse("portal:case-detail", args=[case.number]),
        reverse("portal:home"),
        reverse("portal:case-list"),
    ):
        html = customer_client.get(url).content.decode()
        _assert_inert(html)
    detail = customer_client.get(reverse("portal:case-detail", args=[case.number])).content
    html = detail.decode()
    assert "&lt;script&gt;" in html
    assert "<iframe" not in html
    assert 'href="https://example.test"' in html
    assert "&quot;&gt;&lt;img src=x" in html


# -- redirects and CSRF ---------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/x", "http:evil.test"])
def test_next_after_sign_in_stays_on_site(client, customer, target):
    response = client.post(
        reverse("portal:login"),
        {"login": customer.email, "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert "evil.test" not in response["Location"]
    assert response["Location"] == "/portal/"


def test_next_inside_site_is_followed(client, customer):
    response = client.post(
        reverse("portal:login"),
        {"login": customer.email, "password": PASSWORD, "next": "/portal/cases/"},
    )
    assert response["Location"] == "/portal/cases/"


@pytest.mark.parametrize(
    ("name", "needs_case"),
    [
        ("portal:case-create", False),
        ("portal:case-reply", True),
        ("portal:case-close", True),
        ("portal:case-reopen", True),
        ("portal:case-rate", True),
        ("portal:profile", False),
        ("portal:logout", False),
        ("portal:password-change", False),
    ],
)
def test_every_portal_post_needs_csrf(customer, name, needs_case):
    case = _case_for(customer)
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    url = reverse(name, args=[case.number] if needs_case else [])
    response = client.post(url, {"subject": "x", "description": "y", "body": "z"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == Case.Status.NEW
    assert not CaseComment.objects.filter(case=case).exists()
    assert Case.objects.count() == 1


@pytest.mark.parametrize("name", ["portal:login", "portal:password-reset", "portal:register"])
def test_anonymous_posts_need_csrf(name, db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse(name), {"login": "a@b.test", "email": "a@b.test"})
    assert response.status_code == 403


def test_invitation_posts_need_csrf(agent, customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post(reverse("portal:invitation-send", args=[customer.contact.pk]))
    assert response.status_code == 403


# -- query counts ----------------------------------------------------------------------------------


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url_name", ["portal:home", "portal:case-list"])
def test_page_costs_the_same_at_5_and_50_cases(
    manager_client, customer_manager, customer, url_name
):
    def add(n):
        for i in range(n):
            contact = (customer_manager if i % 2 else customer).contact
            case = CaseFactory(contact=contact, subject=f"Case {i}")
            CaseFactory(parent=case, contact=contact)

    add(5)
    url = reverse(url_name) + ("?scope=account&state=all" if url_name.endswith("list") else "")
    manager_client.get(url)  # warm the caches (access grants, portal settings)
    small = _count(manager_client, url)
    add(45)
    large = _count(manager_client, url)
    assert small == large
    assert large <= 12


def test_parent_case_of_another_account_is_not_shown(
    customer_client, customer, foreign_case, agent
):
    case = _case_for(customer)
    services.case_update(actor=agent, case=case, parent=foreign_case)
    page = customer_client.get(reverse("portal:case-detail", args=[case.number])).content
    assert foreign_case.number.encode() not in page
    assert b"Follows up" not in page


def test_follow_up_links_to_own_parent(customer_client, customer):
    old = _case_for(customer, subject="Old one")
    new = services.case_create(
        actor=customer, subject="New one", contact=customer.contact, parent=old
    )
    page = customer_client.get(reverse("portal:case-detail", args=[new.number])).content
    assert f"#{old.number}".encode() in page


def test_detail_page_costs_the_same_with_2_and_20_replies(customer_client, customer, agent):
    case = _case_for(customer)

    def add(n):
        for i in range(n):
            services.comment_add(
                actor=agent,
                case=case,
                body=f"Reply {i} **bold**",
                is_public=True,
                files=[upload(f"f{i}.png")],
            )
            services.comment_add(actor=agent, case=case, body="note", is_public=False)

    add(2)
    url = reverse("portal:case-detail", args=[case.number])
    customer_client.get(url)
    small = _count(customer_client, url)
    add(18)
    large = _count(customer_client, url)
    assert small == large


def test_token_pages_need_csrf_too(client, agent, customer_account):
    import re as re_

    from accounts.invitations import invitation_send
    from notifications.models import OutboundEmail
    from tests.factories import ContactFactory

    contact = ContactFactory(email="csrf@acme.test", account=customer_account)
    invitation_send(actor=agent, contact=contact)
    row = OutboundEmail.objects.filter(to=[contact.email]).latest("id")
    path = re_.search(r"https?://[^/]+(/portal/invitations/[\w-]+/)", row.text).group(1)
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        path, {"password1": "blue-harbour-kettle-42", "password2": "blue-harbour-kettle-42"}
    )
    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.user is None


def test_email_change_posts_need_csrf(customer):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(customer)
    assert strict.post(reverse("portal:email-change"), {"email": "x@acme.test"}).status_code == 403
    assert strict.post(reverse("portal:email-confirm", args=["anything"])).status_code == 403
