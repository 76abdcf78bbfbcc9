"""Default profiles and permission sets, usable as soon as the database exists."""

from django.db import migrations


from access.defaults import PERMISSION_SETS, PROFILES


def create_defaults(apps, schema_editor):
    Profile = apps.get_model("access", "Profile")
    PermissionSet = apps.get_model("access", "PermissionSet")
    ObjectPermission = apps.get_model("access", "ObjectPermission")
    for spec in PROFILES:
        spec = dict(spec)
        objects = spec.pop("objects")
        profile, created = Profile.objects.get_or_create(key=spec["key"], defaults=spec)
        if not created:
            continue
        for obj_type, actions in objects.items():
            ObjectPermission.objects.create(
                profile=profile, obj_type=obj_type,
                **{f"can_{action}": True for action in actions},
            )
    for spec in PERMISSION_SETS:
        PermissionSet.objects.get_or_create(key=spec["key"], defaults=spec)


def remove_defaults(apps, schema_editor):
    apps.get_model("access", "Profile").objects.filter(
        key__in=[p["key"] for p in PROFILES], assignments__isnull=True
    ).delete()
    apps.get_model("access", "PermissionSet").objects.filter(
        key__in=[p["key"] for p in PERMISSION_SETS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("access", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
