"""Session policy: idle and absolute timeouts, IP lock, the session list and revoking."""

import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from access.models import AuditLog, UserSession
from tests.access.conftest import set_profile, sign_in
from tests.factories import PASSWORD

DESK = "/desk/"


class Clock:
    """Moves the middleware's clock forward (time travel without sleeping)."""

    def __init__(self, monkeypatch):
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr("access.middleware.time.time", lambda: real() + self.offset)

    def advance(self, seconds):
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def _signed_out(response):
    return response.status_code == 302 and reverse("account_login") in response["Location"]


@pytest.mark.django_db
def test_idle_timeout_ends_the_session(client, agent, clock):
    set_profile("support_agent", idle_timeout_minutes=15)
    assert sign_in(client, agent).status_code == 302
    assert client.get(DESK).status_code == 200
    clock.advance(14 * 60)
    assert client.get(DESK).status_code == 200  # activity resets the idle clock
    clock.advance(14 * 60)
    assert client.get(DESK).status_code == 200
    clock.advance(16 * 60)
    assert _signed_out(client.get(DESK))
    row = UserSession.objects.get(user=agent)
    assert row.ended_at is not None
    assert row.end_reason == "idle"
    assert AuditLog.objects.filter(
        action=AuditLog.Action.SESSION_ENDED, target_id=str(agent.pk), detail__startswith="idle"
    ).exists()


@pytest.mark.django_db
def test_absolute_lifetime_ends_an_active_session(client, agent, clock):
    set_profile("support_agent", idle_timeout_minutes=60, session_lifetime_hours=2)
    sign_in(client, agent)
    for _ in range(11):  # 110 minutes of steady work
        clock.advance(10 * 60)
        assert client.get(DESK).status_code == 200
    clock.advance(11 * 60)
    assert _signed_out(client.get(DESK))
    assert UserSession.objects.get(user=agent).end_reason == "expired"


@pytest.mark.django_db
def test_ip_lock_ends_the_session_when_the_address_changes(client, agent):
    set_profile("support_agent", lock_session_to_ip=True)
    sign_in(client, agent, ip="198.51.100.7")
    assert client.get(DESK, REMOTE_ADDR="198.51.100.7").status_code == 200
    assert _signed_out(client.get(DESK, REMOTE_ADDR="198.51.100.8"))
    assert client.get(DESK, REMOTE_ADDR="198.51.100.7").status_code == 302  # stays signed out
    assert UserSession.objects.get(user=agent).end_reason == "ip_changed"


@pytest.mark.django_db
def test_without_ip_lock_a_new_address_is_fine(client, agent):
    sign_in(client, agent, ip="198.51.100.7")
    assert client.get(DESK, REMOTE_ADDR="203.0.113.1").status_code == 200


@pytest.mark.django_db
def test_session_list_shows_ip_browser_and_signs_out_the_others(agent):
    phone, laptop = Client(), Client()
    sign_in(phone, agent, ip="198.51.100.1", HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Safari/604.1")
    sign_in(laptop, agent, ip="198.51.100.2", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Chrome/130")
    page = laptop.get(reverse("access:sessions")).content.decode()
    assert "198.51.100.1" in page
    assert "Safari on iPhone" in page
    assert "Chrome on Linux" in page
    response = laptop.post(reverse("access:sessions-end-others"))
    assert response.status_code == 302
    assert _signed_out(phone.get(DESK))
    assert laptop.get(DESK).status_code == 200
    assert UserSession.objects.filter(user=agent, ended_at__isnull=True).count() == 1
    assert AuditLog.objects.filter(action=AuditLog.Action.SESSION_ENDED).count() == 1


@pytest.mark.django_db
def test_one_session_can_be_signed_out_but_not_someone_elses(agent, other_agent):
    mine, other_mine, theirs = Client(), Client(), Client()
    sign_in(mine, agent)
    sign_in(other_mine, agent)
    sign_in(theirs, other_agent)
    their_row = UserSession.objects.get(user=other_agent)
    assert mine.post(reverse("access:session-end", args=[their_row.pk])).status_code == 404
    assert theirs.get(DESK).status_code == 200
    my_other = (
        UserSession.objects.filter(user=agent).exclude(session_key=mine.session.session_key).get()
    )
    assert mine.post(reverse("access:session-end", args=[my_other.pk])).status_code == 302
    assert _signed_out(other_mine.get(DESK))


@pytest.mark.django_db
def test_admin_ends_all_sessions_of_a_user(client, admin, agent):
    agent_client = Client()
    sign_in(agent_client, agent)
    sign_in(client, admin)
    response = client.post(reverse("admin:access_end_sessions", args=[agent.pk]))
    assert response.status_code == 302
    assert _signed_out(agent_client.get(DESK))
    row = AuditLog.objects.get(action=AuditLog.Action.SESSION_ENDED)
    assert (row.actor, row.target_id, row.detail[:14]) == (admin, str(agent.pk), "ended by admin")


@pytest.mark.django_db
def test_password_change_signs_out_the_other_sessions(agent):
    here, elsewhere = Client(), Client()
    sign_in(here, agent)
    sign_in(elsewhere, agent)
    response = here.post(
        reverse("account_change_password"),
        {
            "oldpassword": PASSWORD,
            "password1": "new-horse-battery-42",
            "password2": "new-horse-battery-42",
        },
    )
    assert response.status_code == 302
    assert here.get(DESK).status_code == 200
    assert _signed_out(elsewhere.get(DESK))
    assert AuditLog.objects.filter(action=AuditLog.Action.PASSWORD_CHANGED, actor=agent).exists()
    assert not Session.objects.filter(session_key=elsewhere.session.session_key).exists()


@pytest.mark.django_db
def test_sign_in_and_sign_out_are_audited(client, agent):
    sign_in(client, agent, ip="198.51.100.4")
    client.post(reverse("account_logout"))
    actions = list(AuditLog.objects.filter(actor=agent).order_by("id").values_list("action", "ip"))
    assert actions == [("sign_in", "198.51.100.4"), ("sign_out", "127.0.0.1")]
    assert UserSession.objects.get(user=agent).end_reason == "signed out"
