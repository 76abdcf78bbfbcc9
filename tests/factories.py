"""factory_boy factories shared by every app's tests."""

import factory
from django.utils import timezone

from accounts.models import Account, AccountDomain, Contact, User
from cases.models import Activity, Case, CaseComment, Queue
from cases.services import allocate_case_numbers, format_case_number

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AgentFactory(UserFactory):
    email = factory.Sequence(lambda n: f"agent{n}@casedesk.test")
    is_staff = True


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    tier = Account.Tier.STANDARD


class AccountDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountDomain

    account = factory.SubFactory(AccountFactory)
    domain = factory.Sequence(lambda n: f"company{n}.test")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@customer.test")


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue

    name = factory.Sequence(lambda n: f"Queue {n}")
    slug = factory.Sequence(lambda n: f"queue-{n}")


class CaseFactory(factory.django.DjangoModelFactory):
    """A case written straight to the table (no history); use services to test behaviour."""

    class Meta:
        model = Case

    number = factory.LazyFunction(lambda: format_case_number(allocate_case_numbers(1)[0]))
    subject = factory.Faker("sentence", nb_words=6)
    description = factory.Faker("paragraph")
    contact = factory.SubFactory(ContactFactory)
    account = factory.SelfAttribute("contact.account")
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseComment

    case = factory.SubFactory(CaseFactory)
    body = factory.Faker("paragraph")
    is_public = True


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    case = factory.SubFactory(CaseFactory)
    kind = Activity.Kind.FOLLOW_UP
    subject = factory.Faker("sentence", nb_words=4)
    due_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=1))
