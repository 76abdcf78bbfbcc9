"""The standard cast and test-wide settings (STYLE.md, Tests)."""

import importlib
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


# Data migrations whose rows the app relies on: (app label, migration name).
DATA_MIGRATIONS = (
    ("access", "0002_default_profiles"),
    ("notifications", "0002_default_flows"),
)


@pytest.fixture(autouse=True)
def _data_migration_rows(request):
    """Put back the rows of data migrations before every transactional test.

    A transactional test ends by flushing every table, which drops the default profiles,
    flows and templates too. Django's serialized rollback should restore them but does not
    survive every mix of live-server and browser tests, so re-run the (idempotent) data
    migrations instead: one cheap get_or_create pass per transactional test.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    for app_label, name in DATA_MIGRATIONS:
        module = importlib.import_module(f"{app_label}.migrations.{name}")
        module.create_defaults(apps, None)


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
