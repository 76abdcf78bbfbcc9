"""Field-level security on the desk: hidden fields are absent, read-only ones cannot change."""

import pytest
from django.urls import reverse

from access import policy
from access import services as access_services
from access.models import AuditLog, FieldPermission, PermissionSet, Profile
from cases import services
from cases.models import Case
from lib.errors import DomainError
from tests.factories import ContactFactory

HIDDEN, READ_ONLY, EDITABLE = 0, 1, 2


@pytest.fixture
def agent_fls(db):
    profile = Profile.objects.get(key="support_agent")
    access_services.field_permissions_set(
        actor=None,
        grantee=profile,
        levels={("case", "priority"): HIDDEN, ("case", "type"): READ_ONLY},
    )
    return profile


@pytest.fixture
def case(agent, customer):
    return services.case_create(
        actor=None,
        subject="Broken login",
        contact=customer.contact,
        owner=agent,
        priority=Case.Priority.HIGH,
        type=Case.Type.PROBLEM,
    )


def _post(case, **overrides):
    data = {
        "subject": case.subject,
        "description": case.description,
        "type": case.type,
        "parent": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_hidden_field_is_absent_from_detail_and_list_pages(client, agent, agent_fls, case):
    client.force_login(agent)
    detail = client.get(reverse("desk:case-detail", args=[case.number])).content.decode()
    assert 'name="priority"' not in detail
    assert "prio-high" not in detail
    listing = client.get(reverse("desk:case-list"))
    html = listing.content.decode()
    assert "<th>Priority</th>" not in html
    assert 'name="priority"' not in html
    assert "priority" not in listing.context["form"].fields
    assert all(
        "priority" not in value for value, _ in listing.context["form"].fields["sort"].choices
    )


@pytest.mark.django_db
def test_hidden_field_cannot_be_sorted_or_filtered_by_a_crafted_query(
    client, agent, agent_fls, case
):
    services.case_create(actor=None, subject="Low one", owner=agent, priority=Case.Priority.LOW)
    client.force_login(agent)
    response = client.get(reverse("desk:case-list"), {"priority": "low", "view": ""})
    # The filter on a hidden field is ignored: both cases are listed.
    assert len(response.context["cases"]) == 2


@pytest.mark.django_db
def test_crafted_post_of_a_hidden_field_is_refused_and_nothing_saved(
    client, agent, agent_fls, case
):
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-edit", args=[case.number]),
        _post(case, subject="Changed subject", priority=Case.Priority.LOW),
    )
    assert response.status_code == 403
    assert "You may not change: priority" in response.content.decode()
    case.refresh_from_db()
    assert case.priority == Case.Priority.HIGH
    assert case.subject == "Broken login"


@pytest.mark.django_db
def test_read_only_field_is_shown_disabled_and_a_crafted_change_is_refused(
    client, agent, agent_fls, case
):
    client.force_login(agent)
    page = client.get(reverse("desk:case-detail", args=[case.number]))
    assert page.context["edit_form"].fields["type"].disabled
    response = client.post(
        reverse("desk:case-edit", args=[case.number]),
        _post(case, subject="Changed subject", type=Case.Type.QUESTION),
    )
    assert response.status_code == 403
    case.refresh_from_db()
    assert (case.type, case.subject) == (Case.Type.PROBLEM, "Broken login")


@pytest.mark.django_db
def test_read_only_field_sent_unchanged_is_harmless(client, agent, agent_fls, case):
    client.force_login(agent)
    response = client.post(
        reverse("desk:case-edit", args=[case.number]), _post(case, subject="Better subject")
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.subject == "Better subject"


@pytest.mark.django_db
def test_service_refuses_read_only_fields_too(agent, agent_fls, case):
    with pytest.raises(DomainError, match="type"):
        services.case_update(actor=agent, case=case, type=Case.Type.QUESTION)
    case.refresh_from_db()
    assert case.type == Case.Type.PROBLEM


@pytest.mark.django_db
def test_permission_set_raises_a_field_level_and_cache_follows_changes(agent, agent_fls):
    fields = ("subject", "priority", "type")
    assert policy.readable_fields(agent, "case", fields) == ("subject", "type")
    assert policy.editable_fields(agent, "case", fields) == ("subject",)
    triage = PermissionSet.objects.create(name="Triage", key="triage")
    FieldPermission.objects.create(
        permission_set=triage, obj_type="case", field="priority", access=EDITABLE
    )
    access_services.user_access_assign(
        actor=None,
        user=agent,
        profile=Profile.objects.get(key="support_agent"),
        permission_sets=[triage],
    )
    # Same user instance: the assignment bumped the version, so nothing stale is served.
    assert policy.editable_fields(agent, "case", fields) == ("subject", "priority")
    level, source = policy.effective(agent).field_level("case", "priority")
    assert (level, source) == (EDITABLE, "permission set Triage")


@pytest.mark.django_db
def test_field_matrix_change_is_audited_with_before_and_after(agent_fls):
    row = AuditLog.objects.get(action=AuditLog.Action.CONFIG_CHANGED, detail="field-level security")
    assert row.before == {"case.priority": "default", "case.type": "default"}
    assert row.after == {"case.priority": "hidden", "case.type": "read-only"}


@pytest.mark.django_db
def test_portal_defaults_are_read_only_and_email_recipients_follow_portal_fls(customer):
    assert policy.editable_fields(customer, "case", ("subject", "priority")) == ()
    assert policy.readable_fields(customer, "case", ("subject", "priority")) == (
        "subject",
        "priority",
    )
    access_services.field_permissions_set(
        actor=None,
        grantee=Profile.objects.get(key="customer_portal_user"),
        levels={("case", "priority"): HIDDEN},
    )
    no_login = ContactFactory()
    assert policy.recipient_readable_fields(no_login, "case", ("subject", "priority")) == (
        "subject",
    )
    assert policy.recipient_readable_fields(customer.contact, "case", ("priority",)) == ()


@pytest.fixture
def account_phone_hidden(db):
    access_services.field_permissions_set(
        actor=None,
        grantee=Profile.objects.get(key="support_agent"),
        levels={("account", "phone"): HIDDEN, ("account", "tier"): READ_ONLY},
    )


def _account_post(account, **overrides):
    data = {
        "name": account.name,
        "tier": account.tier,
        "phone": account.phone,
        "website": "",
        "domains": "",
        "is_active": "on",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_hidden_account_field_is_absent_from_detail_and_edit_pages(
    client, agent, account_phone_hidden
):
    from tests.factories import AccountFactory

    account = AccountFactory(phone="+1 555 0100")
    client.force_login(agent)
    detail = client.get(reverse("desk:account-detail", args=[account.pk])).content.decode()
    edit = client.get(reverse("desk:account-edit", args=[account.pk])).content.decode()
    for html in (detail, edit):
        assert "+1 555 0100" not in html
        assert 'name="phone"' not in html
    assert 'name="tier"' in edit
    assert "disabled" in edit


@pytest.mark.django_db
def test_crafted_account_post_of_hidden_or_read_only_field_saves_nothing(
    client, agent, account_phone_hidden
):
    from tests.factories import AccountFactory

    account = AccountFactory(phone="+1 555 0100", name="Acme")
    client.force_login(agent)
    url = reverse("desk:account-edit", args=[account.pk])
    for crafted in ({"phone": "+1 555 9999"}, {"tier": "enterprise"}):
        response = client.post(url, _account_post(account, name="Renamed", **crafted))
        assert response.status_code == 403
        assert "You may not change" in response.content.decode()
        account.refresh_from_db()
        assert (account.name, account.phone, account.tier) == ("Acme", "+1 555 0100", "standard")
    # Unchanged values of those fields are harmless.
    response = client.post(url, _account_post(account, name="Renamed"))
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Renamed"


@pytest.mark.django_db
def test_case_create_form_withholds_hidden_fields_and_refuses_crafted_values(
    client, agent, agent_fls, customer
):
    client.force_login(agent)
    url = reverse("desk:case-create")
    assert 'name="priority"' not in client.get(url).content.decode()
    data = {
        "contact": customer.contact.email,
        "subject": "New one",
        "description": "",
        "type": "problem",
        "origin": "phone",
    }
    refused = client.post(url, {**data, "type": "question", "priority": "urgent"})
    assert refused.status_code == 403
    assert not Case.objects.filter(subject="New one").exists()
    # Read-only type sent as its initial value, hidden priority left out: created with defaults.
    form_type = client.get(url).context["form"]["type"].initial
    created = client.post(url, {**data, "type": form_type})
    assert created.status_code == 302
    assert Case.objects.get(subject="New one").priority == Case.Priority.MEDIUM
