import threading

import pytest
from django.db import connections

from cases import services
from cases.models import Case, Counter
from tests.markers import requires_postgresql

THREADS = 20


def _create_concurrently(agent, count: int) -> tuple[list[str], list[BaseException]]:
    """Start ``count`` threads that each create one case at the same moment."""
    start = threading.Barrier(count, timeout=30)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create(i: int) -> None:
        try:
            start.wait()
            case = services.case_create(actor=agent, subject=f"Concurrent case {i}")
            with lock:
                numbers.append(case.number)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            # Each thread got its own connection; close it so the test database can be dropped.
            connections.close_all()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a case_create call hung"
    return numbers, errors


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_case_creates_get_distinct_numbers_from_a_cold_counter(agent):
    # No counter row yet: the creators also race to create it.
    assert not Counter.objects.exists()

    numbers, errors = _create_concurrently(agent, THREADS)

    assert errors == []
    assert len(numbers) == THREADS
    assert len(set(numbers)) == THREADS
    assert Case.objects.filter(number__in=numbers).count() == THREADS
    # Nothing rolled back, so the block has no gaps either.
    values = sorted(int(n) for n in numbers)
    assert values == list(range(values[0], values[0] + THREADS))


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_case_creates_get_distinct_numbers_from_a_warm_counter(agent):
    first = services.case_create(actor=agent, subject="Warm-up")

    numbers, errors = _create_concurrently(agent, THREADS)

    assert errors == []
    assert len(set(numbers)) == THREADS
    assert first.number not in numbers
    assert sorted(int(n) for n in numbers) == [int(first.number) + i for i in range(1, 21)]


@pytest.mark.django_db
def test_allocated_blocks_never_overlap_and_numbers_are_zero_padded():
    a = services.allocate_case_numbers(5)
    b = services.allocate_case_numbers(3)

    assert len(a) == 5
    assert len(b) == 3
    assert b[0] == a[-1] + 1
    assert services.format_case_number(a[0]) == f"{a[0]:08d}"
    assert len(services.format_case_number(a[0])) == 8
