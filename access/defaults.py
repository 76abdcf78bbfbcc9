"""The default profiles and permission sets (created by migration 0002, usable at once).

The policy falls back to these specs when a default profile's row is missing (a test
database flushed between transactional tests, a half-restored backup), so a user is
never left without the rights the defaults promise.
"""

ALL = ("read", "create", "edit", "delete", "view_all", "modify_all")
STAFF_OBJECTS = ("case", "account", "contact", "comment", "attachment", "activity")

PROFILES = [
    {
        "key": "system_administrator",
        "name": "System Administrator",
        "user_type": "staff",
        "description": "Everything, on every record, including configuration and users.",
        "system_permissions": [
            "manage_users",
            "manage_configuration",
            "view_dashboards",
            "export_data",
            "bulk_actions",
            "issue_refunds",
        ],
        "objects": dict.fromkeys(STAFF_OBJECTS, ALL),
        "idle_timeout_minutes": 60,
        "session_lifetime_hours": 12,
    },
    {
        "key": "support_supervisor",
        "name": "Support Supervisor",
        "user_type": "staff",
        "description": "Runs the team: sees and changes every case, dashboards, bulk actions.",
        "system_permissions": ["view_dashboards", "export_data", "bulk_actions", "issue_refunds"],
        "objects": {
            "case": ALL,
            "account": ("read", "create", "edit", "view_all"),
            "contact": ("read", "create", "edit", "view_all"),
            "comment": ALL,
            "attachment": ALL,
            "activity": ALL,
        },
    },
    {
        "key": "support_agent",
        "name": "Support Agent",
        "user_type": "staff",
        "description": "Reads every case; works those they own, of their queues and the pool.",
        "system_permissions": ["bulk_actions"],
        "objects": {
            # View all: agents read every case (the desk's lists), but change only the
            # ones they own, of their queues or the unassigned pool.
            "case": ("read", "create", "edit", "view_all"),
            "account": ("read", "create", "edit"),
            "contact": ("read", "create", "edit"),
            "comment": ("read", "create"),
            "attachment": ("read", "create"),
            "activity": ("read", "create", "edit"),
        },
    },
    {
        "key": "customer_portal_user",
        "name": "Customer Portal User",
        "user_type": "portal",
        "description": "A customer: files and follows their own cases.",
        "system_permissions": [],
        "objects": {
            "case": ("read", "create", "edit"),
            "comment": ("read", "create"),
            "attachment": ("read", "create"),
        },
    },
    {
        "key": "customer_portal_manager",
        "name": "Customer Portal Manager",
        "user_type": "portal",
        "description": "A customer's account manager: all cases of their account.",
        "system_permissions": [],
        "objects": {
            "case": ("read", "create", "edit"),
            "comment": ("read", "create"),
            "attachment": ("read", "create"),
            "account": ("read",),
            "contact": ("read",),
        },
    },
]

PERMISSION_SETS = [
    {
        "key": "data_export",
        "name": "Data Export",
        "description": "Export lists to CSV.",
        "system_permissions": ["export_data"],
    },
    {
        "key": "dashboard_viewer",
        "name": "Dashboard Viewer",
        "description": "See the SLA dashboards.",
        "system_permissions": ["view_dashboards"],
    },
]
