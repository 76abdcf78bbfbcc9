import pytest

from cases.models import Queue
from lib import snapshot
from lib.db import insert_unless_conflict, update_returning_pks
from lib.snapshot import config_snapshot, snapshot_value


def test_a_snapshot_loads_each_value_once_and_forget_reloads():
    loads = []

    def load():
        loads.append(1)
        return len(loads)

    assert snapshot_value("k", load) == 1  # outside a snapshot: every call loads
    assert snapshot_value("k", load) == 2
    with config_snapshot():
        assert snapshot_value("k", load) == 3
        with config_snapshot():  # nested: the outer one serves
            assert snapshot_value("k", load) == 3
        snapshot.forget()
        assert snapshot_value("k", load) == 4
    assert snapshot_value("k", load) == 5


@pytest.mark.django_db
def test_insert_unless_conflict_inserts_once_and_keeps_the_transaction_usable():
    first = Queue(name="One", slug="one")
    again = Queue(name="One", slug="one-again")  # the name is unique

    assert insert_unless_conflict(first) is True
    assert first.pk is not None
    assert insert_unless_conflict(again) is False
    assert again.pk is None
    assert Queue.objects.filter(name="One").count() == 1  # still usable: no aborted txn


@pytest.mark.django_db
def test_update_returning_pks_returns_exactly_the_rows_it_changed():
    a = Queue.objects.create(name="A", slug="a", inbound_address="a@x.test")
    Queue.objects.create(name="B", slug="b")

    changed = update_returning_pks(
        Queue.objects.filter(inbound_address__isnull=False, slug="a"), slug="a2"
    )
    again = update_returning_pks(Queue.objects.filter(slug="a"), slug="a3")

    assert changed == [a.pk]
    assert again == []
    assert Queue.objects.get(pk=a.pk).slug == "a2"
