"""Database helpers the ORM does not offer in one call."""

from __future__ import annotations

from django.db import connections, router
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery


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
