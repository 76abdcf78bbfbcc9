"""Access checks cost a fixed number of queries, whatever the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access import policy
from tests.factories import AccountFactory, CaseFactory, ContactFactory


def _list_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("desk:case-list"), {"view": ""})
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.context["cases"])


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["agent", "restricted_agent", "supervisor"])
def test_case_list_query_count_does_not_grow_with_cases(request, client, who, queue):
    user = request.getfixturevalue(who)
    queue.members.add(user)
    contact = ContactFactory(account=AccountFactory())
    CaseFactory.create_batch(5, contact=contact, queue=queue)
    client.force_login(user)
    client.get(reverse("desk:case-list"))  # warm the session and the permission cache
    few, shown_few = _list_queries(client)
    CaseFactory.create_batch(45, contact=contact, queue=queue)
    many, shown_many = _list_queries(client)
    assert (shown_few, shown_many) == (5, 50)
    assert few == many


@pytest.mark.django_db
def test_case_list_stays_within_the_desk_budget(client, agent, django_assert_max_num_queries):
    CaseFactory.create_batch(50, owner=agent)
    client.force_login(agent)
    client.get(reverse("desk:case-list"))
    with django_assert_max_num_queries(8):
        client.get(reverse("desk:case-list"))


@pytest.mark.django_db
def test_effective_permissions_are_computed_once_then_cached(agent, django_assert_num_queries):
    from tests.factories import UserFactory

    policy.effective(agent)
    fresh = UserFactory._meta.model.objects.get(pk=agent.pk)  # a new request's user object
    with django_assert_num_queries(0):
        for _ in range(100):
            policy.can(fresh, "edit", "case")
            policy.readable_fields(fresh, "case", ("subject", "priority"))
