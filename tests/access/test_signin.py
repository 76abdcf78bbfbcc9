"""Sign-in hardening: login IP ranges (with and without proxies), hours, lock-out, MFA."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.test import Client
from django.urls import reverse

from access.models import AuditLog, LoginIpRange, Profile
from tests.access.conftest import set_profile, sign_in
from tests.factories import PASSWORD

DESK = "/desk/"


def _signed_in(client):
    return client.get(DESK).status_code == 200


@pytest.fixture
def office_only(db):
    profile = Profile.objects.get(key="support_agent")
    LoginIpRange.objects.create(profile=profile, cidr="10.0.0.0/8")
    return set_profile("support_agent")  # audited change, bumps the cache version


@pytest.mark.django_db
def test_sign_in_inside_the_range_works(client, agent, office_only):
    assert sign_in(client, agent, ip="10.1.2.3").status_code == 302
    assert _signed_in(client)


@pytest.mark.django_db
def test_sign_in_outside_the_range_is_refused_like_a_wrong_password(client, agent, office_only):
    refused = sign_in(client, agent, ip="192.0.2.1")
    wrong = sign_in(Client(), agent, ip="10.1.2.3", password="not-the-password")
    assert refused.status_code == wrong.status_code == 200
    assert refused.context["form"].errors == wrong.context["form"].errors  # no hint why
    assert not _signed_in(client)
    row = AuditLog.objects.get(action=AuditLog.Action.SIGN_IN_REFUSED)
    assert (row.ip, row.target_id) == ("192.0.2.1", str(agent.pk))
    assert "IP ranges" in row.detail


@pytest.mark.django_db
def test_forged_forwarded_for_never_widens_access_without_proxies(
    client, agent, office_only, settings
):
    settings.TRUSTED_PROXY_COUNT = 0
    sign_in(client, agent, ip="192.0.2.1", HTTP_X_FORWARDED_FOR="10.1.2.3")
    assert not _signed_in(client)


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, agent, office_only, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    sign_in(client, agent, ip="192.0.2.250", HTTP_X_FORWARDED_FOR="10.1.2.3")
    assert _signed_in(client)


@pytest.mark.django_db
def test_behind_a_proxy_a_forged_leftmost_address_is_ignored(client, agent, office_only, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote "10.1.2.3"; the proxy appended the address it really saw.
    sign_in(client, agent, ip="192.0.2.250", HTTP_X_FORWARDED_FOR="10.1.2.3, 192.0.2.77")
    assert not _signed_in(client)
    assert AuditLog.objects.get(action=AuditLog.Action.SIGN_IN_REFUSED).ip == "192.0.2.77"


@pytest.mark.django_db
def test_ranges_checked_on_every_request_end_the_session_elsewhere(client, agent, office_only):
    set_profile("support_agent", ip_check="every_request")
    sign_in(client, agent, ip="10.1.2.3")
    assert client.get(DESK, REMOTE_ADDR="10.9.9.9").status_code == 200
    response = client.get(DESK, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 302
    assert not _signed_in(client)
    assert AuditLog.objects.filter(detail__startswith="ip_range").exists()


@pytest.mark.django_db
def test_ranges_checked_at_sign_in_only_allow_roaming_afterwards(client, agent, office_only):
    sign_in(client, agent, ip="10.1.2.3")
    assert client.get(DESK, REMOTE_ADDR="192.0.2.1").status_code == 200


@pytest.mark.django_db
def test_login_hours_refuse_sign_in_outside_them(client, agent):
    # No weekday listed in a non-empty schedule: never allowed.
    set_profile("support_agent", login_hours={"mon": ["00:00", "00:01"]})
    from django.utils import timezone

    now = timezone.now()
    if now.weekday() == 0 and now.strftime("%H:%M") == "00:00":
        set_profile("support_agent", login_hours={"tue": ["00:00", "00:01"]})
    sign_in(client, agent)
    assert not _signed_in(client)
    assert "login hours" in AuditLog.objects.get(action=AuditLog.Action.SIGN_IN_REFUSED).detail


@pytest.mark.django_db
def test_login_hours_spanning_the_whole_week_allow_sign_in(client, agent):
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    set_profile("support_agent", login_hours={d: ["00:00", "24:00"] for d in days})
    sign_in(client, agent)
    assert _signed_in(client)


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_from_that_address(client, agent, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert sign_in(client, agent, ip="198.51.100.9", password="wrong").status_code == 200
    # The failure that reaches the limit locks; then even the right password is refused.
    assert sign_in(client, agent, ip="198.51.100.9", password="wrong").status_code == 429
    locked = sign_in(client, agent, ip="198.51.100.9")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert not _signed_in(client)
    assert AuditLog.objects.filter(action=AuditLog.Action.SIGN_IN_FAILED).count() >= limit
    assert AuditLog.objects.filter(action=AuditLog.Action.LOCKED_OUT).exists()
    # Per account and address: the same person elsewhere is not locked out.
    other = Client()
    assert sign_in(other, agent, ip="198.51.100.10").status_code == 302


@pytest.mark.django_db
def test_lock_out_does_not_reveal_whether_the_account_exists(client, settings):
    class Ghost:
        email = "nobody@casedesk.test"

    codes = [
        sign_in(client, Ghost, ip="198.51.100.20", password="wrong").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429, 429]


@pytest.mark.django_db
def test_sign_in_failure_looks_the_same_for_unknown_and_known_emails(agent):
    class Ghost:
        email = "nobody@casedesk.test"

    known = sign_in(Client(), agent, password="wrong")
    unknown = sign_in(Client(), Ghost, password="wrong")
    assert known.status_code == unknown.status_code == 200
    assert known.context["form"].errors == unknown.context["form"].errors


@pytest.mark.django_db
def test_password_reset_answers_the_same_for_unknown_and_known_emails(agent, mailoutbox):
    url = reverse("account_reset_password")
    known = Client().post(url, {"email": agent.email})
    unknown = Client().post(url, {"email": "nobody@casedesk.test"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


@pytest.mark.django_db
def test_password_reset_is_rate_limited(agent):
    client = Client()
    url = reverse("account_reset_password")
    codes = [client.post(url, {"email": agent.email}).status_code for _ in range(7)]
    assert codes[0] == 302
    assert 429 in codes


@pytest.mark.django_db
def test_profile_requiring_mfa_sends_users_to_enrol_first(
    client, agent, django_capture_on_commit_callbacks
):
    set_profile("support_agent", mfa_required=True)
    sign_in(client, agent)
    response = client.get(DESK)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    # Enrol for real: allauth asks for the password again first, then shows the secret.
    reauth = client.get(reverse("mfa_activate_totp"))
    assert reauth.status_code == 302
    assert reauth["Location"].startswith(reverse("account_reauthenticate"))
    client.post(reauth["Location"], {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    counter = next(iter(yield_hotp_counters_from_time()))
    code = format_hotp_value(hotp_value(secret, counter))
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals after commit
        enrolled = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert enrolled.status_code == 302
    assert Authenticator.objects.filter(user=agent, type=Authenticator.Type.TOTP).exists()
    assert client.get(DESK).status_code == 200
    assert AuditLog.objects.filter(
        action=AuditLog.Action.MFA_CHANGED, actor=agent, detail="totp added"
    ).exists()


@pytest.mark.django_db
def test_profile_without_mfa_requirement_goes_straight_in(client, agent):
    sign_in(client, agent)
    assert _signed_in(client)


@pytest.mark.django_db
def test_a_sign_in_that_skipped_the_backends_is_still_held_to_the_ranges(
    client, agent, office_only
):
    # force_login signs in without any backend, the way a one-time link would.
    client.force_login(agent)
    response = client.get(DESK, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 302
    assert not _signed_in(client)
    assert AuditLog.objects.filter(detail__startswith="ip_range").exists()
