from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@pytest.fixture(autouse=True)
def _intake_settings(settings):
    settings.INBOUND_EMAIL_SECRET = "test-inbound-secret"
    settings.REPLY_DOMAIN = "casedesk.test"
    settings.REPLY_LOCAL_PART = "support"
    # Small limits so the corpus can exercise them with small files.
    settings.ATTACHMENT_MAX_BYTES = 100 * 1024
    settings.INBOUND_RAW_KEEP_BYTES = 64 * 1024


@pytest.fixture
def dovecot(settings):
    from tests.intake.dovecot import Dovecot

    server = Dovecot()
    try:
        server.start()
        settings.IMAP_CA_FILE = str(server.ca_file)
        yield server
    finally:
        server.stop()
