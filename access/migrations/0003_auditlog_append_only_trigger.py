"""On PostgreSQL the database itself keeps the audit log append-only.

Rows may not be changed or deleted, except that deleting a user clears ``actor_id``
(the on_delete=SET_NULL of the foreign key; ``actor_email`` keeps who it was).
TRUNCATE (test database flushes) is a statement, not a row change, and is not affected.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION access_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'access_auditlog is append-only';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER access_auditlog_append_only
    BEFORE UPDATE OR DELETE ON access_auditlog
    FOR EACH ROW EXECUTE FUNCTION access_auditlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS access_auditlog_append_only ON access_auditlog;
DROP FUNCTION IF EXISTS access_auditlog_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("access", "0002_default_profiles")]

    operations = [migrations.RunPython(create, drop)]
