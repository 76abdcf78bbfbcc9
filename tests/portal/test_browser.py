"""The customer journey in a real Chromium, at phone and desktop size (issue 4)."""

import re

import pytest

from accounts.invitations import invitation_send
from accounts.models import Contact
from cases import services
from cases.models import Case, CaseSatisfaction
from notifications.models import OutboundEmail
from tests.factories import PASSWORD, ContactFactory, UserFactory
from tests.portal.conftest import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "blue-harbour-kettle-42"


def _invitation_path(contact: Contact) -> str:
    row = OutboundEmail.objects.filter(to=[contact.email]).latest("id")
    return re.search(r"https?://[^/]+(/portal/invitations/[\w-]+/)", row.text).group(1)


def test_invited_customer_files_follows_closes_and_rates_a_case(
    page, screenshot, browser, live_server, agent, customer_account, tmp_path
):
    contact = ContactFactory(
        email="nina@acme.test",
        first_name="Nina",
        last_name="Novak",
        account=customer_account,
        timezone="Europe/Berlin",
    )
    invitation_send(actor=agent, contact=contact)

    # The link from the invitation email: set a password, which signs in.
    page.goto(_invitation_path(contact))
    screenshot("portal-01-invitation")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password (again)").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url("**/portal/")
    assert page.get_by_role("heading", name="Hello, Nina").is_visible()
    screenshot("portal-02-home-empty")

    # Sign out and back in through the portal's sign-in page.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/portal/login/")
    page.get_by_label("Email").fill("nina@acme.test")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    screenshot("portal-03-sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/")

    # File a case with an attachment.
    page.get_by_role("link", name="New case").first.click()
    page.get_by_label("Subject").fill("Invoices page shows an error")
    page.get_by_label("Description").fill("Steps:\n\n1. Open *Invoices*\n2. See error 500")
    shot = tmp_path / "error.png"
    shot.write_bytes(png_bytes())
    page.get_by_label("Attachments").set_input_files(str(shot))
    screenshot("portal-04-new-case")
    page.get_by_role("button", name="Submit case").click()
    page.wait_for_url(re.compile(r".*/portal/cases/\d+/$"))
    case = Case.objects.get(subject="Invoices page shows an error")
    assert page.get_by_text(f"Your case #{case.number} has been received").is_visible()
    assert page.get_by_role("link", name="error.png").first.is_visible()
    screenshot("portal-05-case-filed")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    assert page.get_by_text("Invoices page shows an error").is_visible()
    screenshot("portal-06-case-list")

    # An agent answers in the desk (their own browser) and waits on the customer.
    desk = browser.new_context(base_url=live_server.url)
    agent_page = desk.new_page()
    agent_page.goto(f"/desk/cases/{case.number}/")
    agent_page.get_by_label("Email").fill(agent.email)
    agent_page.get_by_label("Password").fill(PASSWORD)
    agent_page.get_by_role("button", name="Sign in").click()
    agent_page.wait_for_url(f"**/desk/cases/{case.number}/")
    agent_page.get_by_label("Message").fill("Could you send the **time** it happened?")
    agent_page.get_by_role("button", name="Send").click()
    agent_page.get_by_text("Reply sent.").wait_for()
    agent_page.get_by_label("New status").select_option(label="Waiting on Customer")
    agent_page.get_by_role("button", name="Set status").click()
    agent_page.get_by_text("Status set to Waiting on Customer.").wait_for()
    desk.close()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    assert page.get_by_role("heading", name="Waiting on you").is_visible()
    screenshot("portal-07-home-waiting")
    page.get_by_role("link", name=re.compile("Invoices page shows an error")).click()
    assert page.get_by_text("Could you send the time it happened?").is_visible()
    page.get_by_label("Your reply").fill("Around 10:15 this morning.")
    page.get_by_role("button", name="Send reply").click()
    assert page.get_by_text("Your reply has been sent.").is_visible()
    case.refresh_from_db()
    assert case.status == Case.Status.IN_PROGRESS
    screenshot("portal-08-replied")

    # The customer closes it and rates it.
    page.get_by_role("button", name=re.compile("This is resolved")).click()
    assert page.get_by_text(f"Case #{case.number} is closed").is_visible()
    page.get_by_label("4").check()
    page.get_by_label("Anything to add?").fill("Fast and friendly.")
    screenshot("portal-09-rate")
    page.get_by_role("button", name="Send feedback").click()
    assert page.get_by_text("Thank you for your feedback.").is_visible()
    # Nothing spills sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    rated = CaseSatisfaction.objects.get(case=case)
    assert (rated.rating, rated.comment) == (4, "Fast and friendly.")
    screenshot("portal-10-rated")


def _sign_in(page, email: str) -> None:
    page.goto("/portal/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/")


def test_account_manager_sees_colleagues_case_plain_customer_does_not(
    page, screenshot, customer_account
):
    colleague = UserFactory(email="colleague@acme.test")
    ContactFactory(
        email=colleague.email,
        account=customer_account,
        user=colleague,
        first_name="Carl",
        last_name="Colleague",
    )
    manager = UserFactory(email="boss@acme.test")
    ContactFactory(
        email=manager.email,
        account=customer_account,
        user=manager,
        portal_role="manager",
        first_name="Bea",
        last_name="Boss",
    )
    case = services.case_create(
        actor=colleague,
        subject="Colleague's broken laptop",
        contact=colleague.contact,
        origin=Case.Origin.PORTAL,
    )
    plain = UserFactory(email="plain@acme.test")
    ContactFactory(email=plain.email, account=customer_account, user=plain)

    _sign_in(page, "boss@acme.test")
    page.goto("/portal/cases/")
    assert page.get_by_text("Colleague's broken laptop").count() == 0
    page.get_by_label(re.compile(r"All of ")).check()
    page.get_by_role("button", name="Apply").click()
    assert page.get_by_text("Colleague's broken laptop").is_visible()
    screenshot("portal-11-manager-account-cases")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/portal/login/")

    _sign_in(page, "plain@acme.test")
    page.goto("/portal/cases/?scope=account&state=all")
    assert page.get_by_text("Colleague's broken laptop").count() == 0
    response = page.goto(f"/portal/cases/{case.number}/")
    assert response.status == 404
