"""Fixtures for access tests: users on each default profile, and cases within/without reach."""

import pytest

from access import services as access_services
from access.models import ObjectPermission, Profile
from cases import services
from cases.models import Attachment
from tests.factories import AgentFactory, QueueFactory


@pytest.fixture
def supervisor(db):
    user = AgentFactory(email="supervisor@casedesk.test", name="Sam Supervisor")
    access_services.user_access_assign(
        actor=None, user=user, profile=Profile.objects.get(key="support_supervisor")
    )
    return user


@pytest.fixture
def restricted_profile(db):
    """A Support Agent copy without "view all" and without accounts/contacts."""
    profile = Profile.objects.create(name="Restricted Agent", key="restricted_agent")
    ObjectPermission.objects.create(
        profile=profile, obj_type="case", can_read=True, can_create=True, can_edit=True
    )
    for obj_type in ("comment", "attachment", "activity"):
        ObjectPermission.objects.create(
            profile=profile, obj_type=obj_type, can_read=True, can_create=True, can_edit=True
        )
    return profile


@pytest.fixture
def restricted_agent(db, restricted_profile):
    user = AgentFactory(email="restricted@casedesk.test", name="Rita Restricted")
    access_services.user_access_assign(actor=None, user=user, profile=restricted_profile)
    return user


@pytest.fixture
def other_queue(db, other_agent):
    q = QueueFactory(name="Billing", slug="billing")
    q.members.add(other_agent)
    return q


def _attach(actor, case, name, *, public=True):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, b"plain text\n", content_type="text/plain")
    return services.attachment_add(actor=actor, case=case, upload=upload, is_public=public)


@pytest.fixture
def make_case(db):
    def make(*, owner, contact, queue=None, subject="Printer on fire"):
        case = services.case_create(
            actor=None, subject=subject, contact=contact, owner=owner, queue=queue
        )
        services.comment_add(actor=None, case=case, body="Public reply", is_public=True)
        services.comment_add(actor=None, case=case, body="Internal note", is_public=False)
        _attach(None, case, "public.txt", public=True)
        _attach(None, case, "internal.txt", public=False)
        from tests.factories import ActivityFactory

        ActivityFactory(case=case, owner=owner)
        return case

    return make


def public_file(case):
    return Attachment.objects.get(case=case, is_public=True)


def internal_file(case):
    return Attachment.objects.get(case=case, is_public=False)


def sign_in(client, user, ip="127.0.0.1", password=None, **extra):
    """Sign in through the real allauth form (axes, IP ranges and hours all apply)."""
    from django.urls import reverse

    from tests.factories import PASSWORD

    return client.post(
        reverse("account_login"),
        {"login": user.email, "password": password or PASSWORD},
        REMOTE_ADDR=ip,
        **extra,
    )


def set_profile(key, **changes):
    """Change a profile's settings the way the admin does: audited, cache version bumped."""
    from access import services as access_services

    profile = Profile.objects.get(key=key)
    before = access_services.grantee_snapshot(profile)
    for name, value in changes.items():
        setattr(profile, name, value)
    profile.full_clean()
    profile.save()
    access_services.access_config_changed(
        actor=None,
        ip=None,
        target=profile,
        action="config_changed",
        before=before,
        after=access_services.grantee_snapshot(profile),
    )
    return profile
