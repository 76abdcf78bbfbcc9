"""Read one RFC 822 message from stdin and apply it: ``manage.py inbound_email < msg.eml``.

For an MTA pipe (``|/path/manage.py inbound_email --recipient $RECIPIENT``). Exit code 0
when the message is recorded (applied, ignored or failed: all are kept in the ledger), so
the MTA does not bounce or resend; 75 (EX_TEMPFAIL) when it could not even be recorded.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from cases.intake.models import InboundEmail
from cases.intake.services import inbound_receive


class Command(BaseCommand):
    help = "Apply one email message read from standard input."

    def add_arguments(self, parser):
        parser.add_argument("--recipient", default="", help="The envelope recipient.")

    def handle(self, *args, **options):
        raw = sys.stdin.buffer.read()
        if not raw.strip():
            raise CommandError("No message on standard input.")
        try:
            row = inbound_receive(
                raw=raw, source=InboundEmail.Source.COMMAND, recipient=options["recipient"]
            )
        except Exception as exc:
            self.stderr.write(f"Could not record the message: {exc}")
            sys.exit(75)
        case = f" case {row.case.number}" if row.case_id else ""
        reason = f": {row.reason}" if row.reason else ""
        self.stdout.write(f"{row.status}{case}{reason}")
