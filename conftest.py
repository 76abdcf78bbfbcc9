"""The standard cast and test-wide settings (STYLE.md, Tests)."""

import os

import pytest
from django.conf import settings

from tests.factories import (
    AccountFactory,
    AgentFactory,
    ContactFactory,
    QueueFactory,
    UserFactory,
)

# One session-wide browser for every test marked ``browser`` (desk, portal, ...).
pytest_plugins = ["tests.playwright_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    # CI sets CASEDESK_REQUIRE_SERVICES; settings already refuse SQLite or no Redis then.
    if os.environ.get("CASEDESK_REQUIRE_SERVICES", "").lower() in ("1", "true", "yes"):
        vendor = settings.DATABASES["default"]["ENGINE"]
        if not vendor.endswith("postgresql"):
            raise pytest.UsageError(f"CI must run on PostgreSQL, not {vendor}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every transactional test a serialized rollback.

    A transactional test ends by flushing every table, which would also drop the rows that
    data migrations create (default profiles, flows, templates) and break the tests after
    it. Serialized rollback restores them; the snapshot is small (only those rows).
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None or not marker.kwargs.get("transaction"):
            continue
        if marker.kwargs.get("serialized_rollback"):
            continue
        kwargs = {**marker.kwargs, "serialized_rollback": True}
        item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    """Uploaded files go to a per-test folder, never into var/."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin(db):
    return UserFactory(
        email="admin@casedesk.test", name="Ada Admin", is_staff=True, is_superuser=True
    )


@pytest.fixture
def agent(db):
    return AgentFactory(email="agent@casedesk.test", name="Alex Agent")


@pytest.fixture
def other_agent(db):
    return AgentFactory(email="other.agent@casedesk.test", name="Olive Other")


@pytest.fixture
def queue(db, agent):
    q = QueueFactory(name="Support", slug="support", inbound_address="support@casedesk.test")
    q.members.add(agent)
    return q


@pytest.fixture
def customer_account(db):
    return AccountFactory(name="Acme Corp")


@pytest.fixture
def other_account(db):
    return AccountFactory(name="Globex")


def _portal_user(email: str, account, role: str = "user"):
    user = UserFactory(email=email)
    ContactFactory(email=email, account=account, user=user, portal_role=role)
    return user


@pytest.fixture
def customer(db, customer_account):
    return _portal_user("customer@acme.test", customer_account)


@pytest.fixture
def customer_manager(db, customer_account):
    return _portal_user("manager@acme.test", customer_account, role="manager")


@pytest.fixture
def other_customer(db, other_account):
    return _portal_user("someone@globex.test", other_account)
