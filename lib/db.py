"""Database helpers the ORM does not offer in one call."""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery, UpdateQuery


def insert_unless_conflict(obj: Model) -> bool:
    """INSERT a new object unless a unique constraint already holds a row like it.

    One statement (``... ON CONFLICT DO NOTHING RETURNING pk``, ``INSERT OR IGNORE`` on
    SQLite), where ``save()`` in a savepoint to catch the IntegrityError costs three round
    trips, and the caller's transaction stays usable either way. Returns True, with the
    primary key set, when this call inserted the row.
    """
    model = type(obj)
    meta = model._meta
    using = router.db_for_write(model, instance=obj)
    connection = connections[using]
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [obj])
    [(sql, params)] = query.get_compiler(using=using).as_sql()
    sql = f"{sql} RETURNING {connection.ops.quote_name(meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = using
    return True


def update_returning_pks(queryset: QuerySet, **changes: Any) -> list[Any]:
    """``queryset.update(**changes)``, returning the primary keys of the rows it changed.

    One ``UPDATE ... RETURNING`` (PostgreSQL, SQLite 3.35+): the rows changed are exactly
    the rows claimed, even when another worker runs the same update at the same moment.
    The filter must be on the model's own columns (no joins).
    """
    model = queryset.model
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(changes)
    compiler = query.get_compiler(using=queryset.db)
    compiler.pre_sql_setup()
    sql, params = compiler.as_sql()
    if not sql:
        return []
    connection = connections[queryset.db]
    sql = f"{sql} RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]
