"""Admin screens (field matrix, effective access, assignment) and the append-only audit log."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from access import policy
from access.models import AuditLog, FieldPermission, PermissionSet, Profile, UserAccess
from tests.access.conftest import sign_in


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.mark.django_db
def test_default_profiles_and_permission_sets_exist():
    assert set(Profile.objects.values_list("name", flat=True)) >= {
        "System Administrator",
        "Support Supervisor",
        "Support Agent",
        "Customer Portal User",
        "Customer Portal Manager",
    }
    assert set(PermissionSet.objects.values_list("name", flat=True)) >= {
        "Data Export",
        "Dashboard Viewer",
    }


@pytest.mark.django_db
def test_default_profile_follows_the_kind_of_user(admin, agent, customer, customer_manager):
    assert policy.effective(admin).profile_key == "system_administrator"
    assert policy.effective(agent).profile_key == "support_agent"
    assert policy.effective(customer).profile_key == "customer_portal_user"
    assert policy.effective(customer_manager).profile_key == "customer_portal_manager"


@pytest.mark.django_db
def test_field_matrix_page_saves_levels_and_audits(admin_client, admin, agent):
    profile = Profile.objects.get(key="support_agent")
    url = reverse("admin:access_profile_fields", args=[profile.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = page.context["form"]
    data = dict.fromkeys(form.fields, "")
    data["case__priority"] = "0"  # hidden
    data["account__phone"] = "1"  # read-only
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert (
        FieldPermission.objects.get(profile=profile, obj_type="case", field="priority").access == 0
    )
    assert policy.readable_fields(agent, "case", ("subject", "priority")) == ("subject",)
    row = AuditLog.objects.get(action=AuditLog.Action.CONFIG_CHANGED)
    assert (row.actor, row.target_label) == (admin, "Support Agent")
    assert row.after == {"case.priority": "hidden", "account.phone": "read-only"}


@pytest.mark.django_db
def test_profile_change_in_admin_is_audited_with_before_and_after(admin_client, agent):
    profile = Profile.objects.get(key="support_agent")
    url = reverse("admin:access_profile_change", args=[profile.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, list):
            data[name] = value
        elif isinstance(value, dict):
            import json

            data[name] = json.dumps(value)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    data["idle_timeout_minutes"] = 30
    # Inline management forms: keep the object permissions as they are, add one IP range.
    rows = list(profile.object_permissions.all())
    data.update(
        {
            "object_permissions-TOTAL_FORMS": len(rows),
            "object_permissions-INITIAL_FORMS": len(rows),
            "ip_ranges-TOTAL_FORMS": 1,
            "ip_ranges-INITIAL_FORMS": 0,
            "ip_ranges-0-cidr": "10.0.0.0/8",
        }
    )
    for i, row in enumerate(rows):
        data[f"object_permissions-{i}-id"] = row.pk
        data[f"object_permissions-{i}-profile"] = profile.pk
        data[f"object_permissions-{i}-obj_type"] = row.obj_type
        for action in row.actions():
            data[f"object_permissions-{i}-can_{action}"] = "on"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    audit = AuditLog.objects.get(
        action=AuditLog.Action.CONFIG_CHANGED, target_label="Support Agent"
    )
    assert (audit.before["idle_timeout_minutes"], audit.after["idle_timeout_minutes"]) == (120, 30)
    assert (audit.before["ip_ranges"], audit.after["ip_ranges"]) == ([], ["10.0.0.0/8"])
    assert policy.effective(agent).ip_ranges == ["10.0.0.0/8"]


@pytest.mark.django_db
def test_assigning_a_profile_in_admin_is_audited_and_takes_effect(admin_client, agent):
    supervisor = Profile.objects.get(key="support_supervisor")
    export = PermissionSet.objects.get(key="data_export")
    response = admin_client.post(
        reverse("admin:access_useraccess_add"),
        {"user": agent.pk, "profile": supervisor.pk, "permission_sets": [export.pk]},
    )
    assert response.status_code == 302
    assert UserAccess.objects.get(user=agent).profile == supervisor
    assert policy.can(agent, "modify_all", "case")
    assert policy.has_system_permission(agent, "export_data")
    row = AuditLog.objects.get(action=AuditLog.Action.PROFILE_ASSIGNED)
    assert row.before == {"profile": "(default) support_agent", "permission_sets": []}
    assert row.after == {"profile": "Support Supervisor", "permission_sets": ["Data Export"]}


@pytest.mark.django_db
def test_effective_access_page_shows_what_and_who_grants_it(admin_client, agent):
    UserAccess.objects.create(user=agent, profile=Profile.objects.get(key="support_agent"))
    response = admin_client.get(reverse("admin:access_effective", args=[agent.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "profile Support Agent" in html
    assert "Reads every case (view all)" in html
    assert "Bulk actions" in html


@pytest.mark.django_db
def test_audit_log_is_read_only_in_admin_and_append_only_in_code(admin_client, agent):
    row = AuditLog.objects.create(action=AuditLog.Action.SIGN_IN, target_label="x")
    assert admin_client.get(reverse("admin:access_auditlog_changelist")).status_code == 200
    assert (
        admin_client.get(
            reverse("admin:access_auditlog_changelist"), {"action": "sign_in"}
        ).status_code
        == 200
    )
    assert admin_client.get(reverse("admin:access_auditlog_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:access_auditlog_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    row.detail = "tampered"
    with pytest.raises(ValidationError):
        row.save()
    with pytest.raises(ValidationError):
        row.delete()
    assert AuditLog.objects.get(pk=row.pk).detail == ""


@pytest.mark.django_db
def test_non_admin_staff_cannot_reach_access_admin(client, agent):
    sign_in(client, agent)
    response = client.get(reverse("admin:access_profile_changelist"))
    # Agents are staff, so the admin knows them, but without model permissions: refused.
    assert response.status_code == 403


@pytest.mark.django_db
def test_database_refuses_audit_edits_but_lets_users_be_deleted(agent):
    from django.db import connection, transaction
    from django.db.utils import DatabaseError

    row = AuditLog.objects.create(
        action=AuditLog.Action.SIGN_IN, actor=agent, actor_email=agent.email
    )
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditLog.objects.filter(pk=row.pk).update(detail="tampered")
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditLog.objects.filter(pk=row.pk).delete()
    agent.delete()
    row = AuditLog.objects.get(pk=row.pk)
    assert (row.actor_id, row.actor_email, row.detail) == (None, "agent@casedesk.test", "")


@pytest.mark.django_db
def test_admin_refuses_a_portal_profile_for_staff(admin_client, agent):
    portal = Profile.objects.get(key="customer_portal_user")
    response = admin_client.post(
        reverse("admin:access_useraccess_add"), {"user": agent.pk, "profile": portal.pk}
    )
    assert response.status_code == 200
    assert "A staff user needs a staff profile." in response.content.decode()
    assert not UserAccess.objects.filter(user=agent).exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.PROFILE_ASSIGNED).exists()


@pytest.mark.django_db
def test_effective_access_lookup_finds_users_on_default_profiles(admin_client, customer):
    url = reverse("admin:access_effective_lookup")
    assert (
        "Effective access of any user"
        in admin_client.get(reverse("admin:access_useraccess_changelist")).content.decode()
    )
    response = admin_client.get(url, {"email": customer.email})
    assert response["Location"] == reverse("admin:access_effective", args=[customer.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "Customer Portal User" in page
    assert "The cases whose contact they are." in page
    assert (
        "No user with that email." in admin_client.get(url, {"email": "x@y.test"}).content.decode()
    )


@pytest.mark.django_db
def test_default_profiles_cannot_be_deleted_but_custom_ones_can(admin_client, restricted_profile):
    agent_profile = Profile.objects.get(key="support_agent")
    url = reverse("admin:access_profile_delete", args=[agent_profile.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    url = reverse("admin:access_profile_delete", args=[restricted_profile.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Profile.objects.filter(pk=restricted_profile.pk).exists()
    row = AuditLog.objects.get(action=AuditLog.Action.CONFIG_DELETED)
    assert row.before["name"] == "Restricted Agent"
