"""Markers shared by test modules."""

import pytest
from django.db import connection

# Real concurrency needs a database with row locks and several connections. CI runs on
# PostgreSQL (conftest.py asserts it), so this only ever skips on a laptop's SQLite run.
requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent writers need PostgreSQL; CI always runs it there",
)
