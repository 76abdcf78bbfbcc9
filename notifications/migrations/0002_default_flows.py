"""The default flows and templates, on from the start (issue 5)."""

from django.db import migrations

TEMPLATES = [
    {
        "slug": "case-acknowledgement",
        "name": "Acknowledgement to the contact",
        "subject": "[Case {{ case.number }}] We received your request: {{ case.subject }}",
        "text_body": (
            "Hello {{ recipient.name }},\n\n"
            "Thank you for contacting us. Your case number is {{ case.number }}.\n"
            "You can follow it here: {{ case.portal_url }}\n\n"
            "Reply to this email to add information to the case.\n"
        ),
        "html_body": (
            "<p>Hello {{ recipient.name }},</p>"
            "<p>Thank you for contacting us. Your case number is <b>{{ case.number }}</b>.</p>"
            '<p><a href="{{ case.portal_url }}">Follow your case</a></p>'
            "<p>Reply to this email to add information to the case.</p>"
        ),
    },
    {
        "slug": "case-agent-reply",
        "name": "Agent reply to the contact",
        "subject": "[Case {{ case.number }}] {{ case.subject }}",
        "text_body": (
            "{{ comment.body }}\n\n"
            "-- \n{{ comment.author }}\n"
            "Case {{ case.number }}: {{ case.portal_url }}\n"
        ),
        "html_body": (
            "<div>{{ comment.body|linebreaks }}</div>"
            "<p>-- <br>{{ comment.author }}</p>"
            '<p><a href="{{ case.portal_url }}">Case {{ case.number }}</a></p>'
        ),
    },
    {
        "slug": "case-waiting-on-customer",
        "name": "Waiting on the customer",
        "subject": "[Case {{ case.number }}] We need your reply: {{ case.subject }}",
        "text_body": (
            "Hello {{ recipient.name }},\n\n"
            "We are waiting for your answer on case {{ case.number }}.\n"
            "Reply to this email or visit {{ case.portal_url }}\n"
        ),
        "html_body": "",
    },
    {
        "slug": "case-resolved",
        "name": "Case resolved",
        "subject": "[Case {{ case.number }}] Resolved: {{ case.subject }}",
        "text_body": (
            "Hello {{ recipient.name }},\n\n"
            "Case {{ case.number }} has been resolved. If the problem is not solved, reply to "
            "this email or reopen it at {{ case.portal_url }}\n"
        ),
        "html_body": "",
    },
    {
        "slug": "owner-customer-reply",
        "name": "Customer reply to the owner",
        "subject": "[Case {{ case.number }}] Customer replied: {{ case.subject }}",
        "text_body": (
            "{{ comment.author }} replied on case {{ case.number }}:\n\n{{ comment.body }}\n\n"
            "{{ case.url }}\n"
        ),
        "html_body": "",
    },
    {
        "slug": "owner-assigned",
        "name": "Case assigned to the owner",
        "subject": "[Case {{ case.number }}] Assigned to you: {{ case.subject }}",
        "text_body": (
            "Case {{ case.number }} ({{ case.priority }} priority) is now yours.\n\n"
            "{{ case.subject }}\n{{ case.url }}\n"
        ),
        "html_body": "",
    },
]

# (slug, name, trigger, conditions [(field, op, value)], recipient, template, run once)
FLOWS = [
    ("ack-case-created", "Acknowledge new cases", "case_created", [], "contact",
     "case-acknowledgement", True),
    ("contact-agent-reply", "Tell the contact of an agent's reply", "agent_public_reply", [],
     "contact", "case-agent-reply", False),
    ("contact-waiting", "Tell the contact we wait on them", "status_changed",
     [("status", "changed_to", "waiting_on_customer")], "contact", "case-waiting-on-customer",
     False),
    ("contact-resolved", "Tell the contact the case is resolved", "status_changed",
     [("status", "changed_to", "resolved")], "contact", "case-resolved", False),
    ("owner-customer-reply", "Tell the owner of a customer reply", "customer_reply", [],
     "owner", "owner-customer-reply", False),
    ("owner-assigned", "Tell the new owner of an assignment", "assigned",
     [("event.owner_changed", "equals", "true")], "owner", "owner-assigned", False),
]


def create_defaults(apps, schema_editor):
    EmailTemplate = apps.get_model("notifications", "EmailTemplate")
    Flow = apps.get_model("notifications", "Flow")
    FlowCondition = apps.get_model("notifications", "FlowCondition")
    FlowAction = apps.get_model("notifications", "FlowAction")
    templates = {}
    for data in TEMPLATES:
        templates[data["slug"]], _ = EmailTemplate.objects.get_or_create(
            slug=data["slug"], language="en", defaults=data
        )
    for position, (slug, name, trigger, conditions, recipient, template, once) in enumerate(
        FLOWS, start=1
    ):
        flow, created = Flow.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "trigger": trigger, "run_once_per_case": once,
                      "position": position * 10},
        )
        if not created:
            continue
        for field, op, value in conditions:
            FlowCondition.objects.create(flow=flow, field=field, operator=op, value=value)
        FlowAction.objects.create(
            flow=flow, position=1, kind="send_email", recipient=recipient,
            template=templates[template],
        )


def remove_defaults(apps, schema_editor):
    Flow = apps.get_model("notifications", "Flow")
    Flow.objects.filter(slug__in=[f[0] for f in FLOWS]).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
