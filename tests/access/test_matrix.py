"""The access matrix: every default profile x object x action x own/other record, through
the real desk URLs, expecting allow (200/302), 403 or 404 as designed (README, Security model).
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.models import Activity, Case
from tests.access.conftest import internal_file, public_file

OK = "allow"
DENIED = 403
MISSING = 404
# Customers who reach a desk URL are sent to the portal home, with nothing done or shown.
TO_PORTAL = "portal"


def _case_post(case):
    return {
        "subject": case.subject + " (edited)",
        "description": case.description,
        "priority": case.priority,
        "type": case.type,
        "parent": "",
    }


# action -> (method, url builder, data builder)
CASE_ACTIONS = {
    "case.read": ("get", lambda c: reverse("desk:case-detail", args=[c.number]), None),
    "case.edit": ("post", lambda c: reverse("desk:case-edit", args=[c.number]), _case_post),
    "case.status": (
        "post",
        lambda c: reverse("desk:case-status", args=[c.number]),
        lambda c: {"status": Case.Status.IN_PROGRESS},
    ),
    "case.assign": (
        "post",
        lambda c: reverse("desk:case-assign", args=[c.number]),
        lambda c: {"to": "me"},
    ),
    "comment.create": (
        "post",
        lambda c: reverse("desk:case-comment", args=[c.number]),
        lambda c: {"body": "Looking into it", "visibility": "internal"},
    ),
    "attachment.create": (
        "post",
        lambda c: reverse("desk:case-attach", args=[c.number]),
        lambda c: {"files": [SimpleUploadedFile("log.txt", b"a log\n")]},
    ),
    "activity.create": (
        "post",
        lambda c: reverse("desk:case-activity", args=[c.number]),
        lambda c: {
            "kind": Activity.Kind.FOLLOW_UP,
            "subject": "Call back",
            "due_at": "2030-01-02T10:00",
        },
    ),
    "activity.edit": (
        "post",
        lambda c: reverse("desk:activity-complete", args=[c.activities.get().pk]),
        lambda c: {},
    ),
    "attachment.read": ("get", lambda c: _file_url(public_file(c)), None),
    "attachment.read_internal": ("get", lambda c: _file_url(internal_file(c)), None),
}

STAFF_ALL = dict.fromkeys(CASE_ACTIONS, OK)
# Support Agent: reads every case (view all) but changes only its own reach.
AGENT_OTHER = {
    **STAFF_ALL,
    "case.edit": DENIED,
    "case.status": DENIED,
    "case.assign": DENIED,
    "activity.edit": DENIED,
}
NOT_IN_REACH = dict.fromkeys(CASE_ACTIONS, MISSING)
# The desk sends portal users away; files answer 404 unless theirs and public.
PORTAL_OWN = {
    **dict.fromkeys(CASE_ACTIONS, TO_PORTAL),
    "attachment.read": OK,
    "attachment.read_internal": MISSING,
}
PORTAL_OTHER = {
    **dict.fromkeys(CASE_ACTIONS, TO_PORTAL),
    "attachment.read": MISSING,
    "attachment.read_internal": MISSING,
}

MATRIX = {
    # user fixture: {record: expectations}
    "admin": {"own": STAFF_ALL, "other": STAFF_ALL},
    "supervisor": {"own": STAFF_ALL, "other": STAFF_ALL},
    "agent": {"own": STAFF_ALL, "other": AGENT_OTHER},
    "restricted_agent": {"own": STAFF_ALL, "other": NOT_IN_REACH},
    "customer": {"own": PORTAL_OWN, "other": PORTAL_OTHER},
    "customer_manager": {"own": PORTAL_OWN, "other": PORTAL_OTHER},
}

ROWS = [
    (who, record, action, expected)
    for who, records in MATRIX.items()
    for record, expectations in records.items()
    for action, expected in expectations.items()
]


def _file_url(attachment):
    return reverse("files:attachment", args=[attachment.pk, attachment.original_name])


def _record(request, who, record, make_case):
    user = request.getfixturevalue(who)
    other_agent = request.getfixturevalue("other_agent")
    other_queue = request.getfixturevalue("other_queue")
    customer = request.getfixturevalue("customer")
    other_customer = request.getfixturevalue("other_customer")
    if record == "other":
        return user, make_case(owner=other_agent, contact=other_customer.contact, queue=other_queue)
    if user.is_staff:
        return user, make_case(owner=user, contact=customer.contact)
    # A portal user's own case; for the account manager a colleague's case of the account.
    return user, make_case(owner=other_agent, contact=customer.contact, queue=other_queue)


def _outcome(response):
    if response.status_code == 302 and response["Location"] == reverse("portal:home"):
        return TO_PORTAL
    if response.status_code in (200, 302):
        return OK
    return response.status_code


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "record", "action", "expected"), ROWS)
def test_access_matrix(request, client, make_case, who, record, action, expected):
    user, case = _record(request, who, record, make_case)
    method, url, data = CASE_ACTIONS[action]
    client.force_login(user)
    before = _state(case)
    target = url(case)
    response = client.get(target) if method == "get" else client.post(target, data(case))
    assert _outcome(response) == expected, f"{who} {action} on {record}: {response.status_code}"
    if expected != OK:
        assert _state(case) == before, f"{who} {action} on {record} changed something"


def _state(case):
    case = Case.objects.get(pk=case.pk)
    return (
        case.subject,
        case.status,
        case.owner_id,
        case.comments.count(),
        case.attachments.count(),
        case.activities.filter(done_at__isnull=True).count(),
        case.activities.count(),
    )


ACCOUNT_ACTIONS = {
    "account.read": ("get", lambda a, c: reverse("desk:account-detail", args=[a.pk])),
    "account.edit": ("post", lambda a, c: reverse("desk:account-edit", args=[a.pk])),
    "contact.read": ("get", lambda a, c: reverse("desk:contact-detail", args=[c.pk])),
    "contact.edit": ("post", lambda a, c: reverse("desk:contact-edit", args=[c.pk])),
    "account.create": ("get", lambda a, c: reverse("desk:account-create")),
    "contact.create": ("get", lambda a, c: reverse("desk:contact-create")),
}
ACCOUNT_MATRIX = {
    "admin": dict.fromkeys(ACCOUNT_ACTIONS, OK),
    "supervisor": dict.fromkeys(ACCOUNT_ACTIONS, OK),
    "agent": dict.fromkeys(ACCOUNT_ACTIONS, OK),
    # No account/contact permission at all: records are out of reach, creating is refused.
    "restricted_agent": {
        **dict.fromkeys(ACCOUNT_ACTIONS, MISSING),
        "account.create": DENIED,
        "contact.create": DENIED,
    },
    "customer": dict.fromkeys(ACCOUNT_ACTIONS, TO_PORTAL),
    "customer_manager": dict.fromkeys(ACCOUNT_ACTIONS, TO_PORTAL),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "action", "expected"),
    [(w, a, e) for w, row in ACCOUNT_MATRIX.items() for a, e in row.items()],
)
def test_account_and_contact_matrix(request, client, customer, who, action, expected):
    user = request.getfixturevalue(who)
    contact = customer.contact
    account = contact.account
    method, url = ACCOUNT_ACTIONS[action]
    client.force_login(user)
    if method == "get":
        response = client.get(url(account, contact))
    else:
        if action == "account.edit":
            data = {"name": "Renamed Corp", "tier": account.tier, "domains": ""}
        else:
            data = {
                "first_name": "Renamed",
                "last_name": contact.last_name,
                "email": contact.email,
                "account": account.pk,
                "portal_role": contact.portal_role,
                "timezone": contact.timezone,
            }
        response = client.post(url(account, contact), data)
    assert _outcome(response) == expected, f"{who} {action}: {response.status_code}"


@pytest.mark.django_db
def test_a_public_file_on_an_internal_note_stays_internal(client, customer, agent):
    from access import policy
    from cases import services
    from cases.models import Attachment

    case = services.case_create(actor=None, subject="Files", contact=customer.contact)
    note = services.comment_add(actor=agent, case=case, body="internal", is_public=False)
    upload = SimpleUploadedFile("secret.txt", b"secret\n")
    attachment = services.attachment_add(actor=agent, case=case, upload=upload, comment=note)
    Attachment.objects.filter(pk=attachment.pk).update(is_public=True)  # a mislabelled row
    attachment.refresh_from_db()
    assert not policy.scope(customer, "attachment", Attachment.objects.all()).exists()
    assert not policy.can(customer, "read", "attachment", attachment)
    client.force_login(customer)
    assert client.get(_file_url(attachment)).status_code == 404
