"""An agent works a case in a real Chromium, at phone and at desktop size."""

import pytest

from cases import services
from cases.models import Case
from tests.factories import PASSWORD, AccountFactory, ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_signs_in_filters_opens_replies_and_changes_status(page, screenshot, agent):
    contact = ContactFactory(account=AccountFactory(name="Acme Corp"), email="pat@acme.test")
    case = services.case_create(
        actor=agent,
        subject="Printer prints blank pages",
        contact=contact,
        priority=Case.Priority.URGENT,
    )
    services.case_create(actor=agent, subject="Invoice address change", contact=contact)

    page.goto("/desk/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/desk/**")
    screenshot("desk-case-list")

    # Filter: the search box narrows the list (htmx swaps the results in place).
    page.get_by_role("searchbox").fill("printer")
    page.get_by_role("button", name="Search").click()
    page.wait_for_function("!document.body.innerText.includes('Invoice address change')")
    assert page.get_by_role("link", name="Printer prints blank pages").is_visible()

    page.get_by_role("link", name="Printer prints blank pages").click()
    page.wait_for_url(f"**/desk/cases/{case.number}/")
    page.get_by_label("Message").fill("Thanks Pat, we are looking into it.")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("Reply sent.").wait_for()
    assert page.get_by_text("Thanks Pat, we are looking into it.").is_visible()

    page.get_by_label("New status").select_option(label="Waiting on Customer")
    page.get_by_role("button", name="Set status").click()
    page.get_by_text("Status set to Waiting on Customer.").wait_for()
    screenshot("desk-case-detail")

    case.refresh_from_db()
    assert case.status == Case.Status.WAITING_ON_CUSTOMER
    assert case.first_response_at is not None
    assert case.comments.filter(is_public=True, author_user=agent).count() == 1
    # Nothing spills sideways on a phone.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
