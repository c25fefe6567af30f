"""Recurring consents: the schedule creates their transfers, within their limits."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from consent import services as consent_services
from consent.models import Frequency
from omadata.celery import app
from relay import services
from relay.models import Transfer
from relay.tasks import transfer_schedule
from tests.factories import grant_consent, request_consent
from tests.relay.helpers import relay_until_final
from tests.servers import Answer


def schedule_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return services.transfer_schedule_due()


def schedule_and_deliver_at(moment) -> int:
    """Run the schedule at `moment`; what it made is delivered before the next run."""
    created = schedule_at(moment)
    Transfer.objects.update(status=Transfer.Status.DELIVERED)
    return created


def test_due_consent_gets_exactly_one_scheduled_transfer(consent):
    assert services.transfer_schedule_due() == 1

    [transfer] = Transfer.objects.all()
    assert (transfer.consent, transfer.status, transfer.scheduled) == (consent, "queued", True)
    assert transfer.requested_by == consent.sink.organisation


def test_scheduled_transfer_is_enqueued_after_commit(consent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.transfer_schedule_due()

    assert len(callbacks) == 1


def test_scheduler_runs_the_schedule_task_every_schedule_interval(settings, consent):
    entry = settings.CELERY_BEAT_SCHEDULE["transfer-schedule"]

    assert entry["task"] == transfer_schedule.name
    assert entry["task"] in app.tasks
    assert entry["schedule"] == settings.OMADATA_SCHEDULE_INTERVAL
    assert transfer_schedule() == 1  # the task's body, in this process


def test_running_twice_in_the_same_instant_creates_one(consent):
    now = timezone.now()

    assert [schedule_at(now), schedule_at(now)] == [1, 0]
    assert Transfer.objects.count() == 1


def test_limit_of_two_a_day_spaces_transfers_twelve_hours_apart(consent):
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=2)
    start = timezone.now()
    hours = [0, 11, 12, 23, 24, 35, 36]

    created = [schedule_and_deliver_at(start + timedelta(hours=h, seconds=1)) for h in hours]

    assert created == [1, 0, 1, 0, 1, 0, 1]


def test_next_scheduled_transfer_waits_a_full_period(consent):
    start = timezone.now()

    assert [
        schedule_and_deliver_at(start),
        schedule_and_deliver_at(start + timedelta(hours=23, minutes=59)),
    ] == [1, 0]
    assert schedule_at(start + timedelta(days=1)) == 1


def test_unfinished_transfer_holds_back_the_next_scheduled_one(consent):
    # Two a day: twelve hours on, the limit and the spacing would allow the next one.
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=2)
    start = timezone.now()
    schedule_at(start)  # still queued, twelve hours on: its source keeps failing, say

    assert schedule_at(start + timedelta(hours=12, seconds=1)) == 0
    assert Transfer.objects.count() == 1


def test_sink_at_its_cap_makes_the_schedule_skip_not_fail(
    consent, wellbeing, wearable, aino, settings
):
    settings.OMADATA_SINK_MAX_UNFINISHED_TRANSFERS = 1
    other = grant_consent(
        request_consent(sink=wellbeing, source=wearable, purpose_category="service_provision"),
        aino,
    )
    services.transfer_request(consent=other, organisation=wellbeing.organisation)

    assert services.transfer_schedule_due() == 0  # `consent` is due, but the sink is full
    assert list(Transfer.objects.values_list("consent", flat=True)) == [other.pk]


def test_sinks_own_transfer_takes_the_scheduled_ones_place(consent):
    services.transfer_request(consent=consent, organisation=consent.sink.organisation)

    assert services.transfer_schedule_due() == 0
    assert not Transfer.objects.filter(scheduled=True).exists()


def test_failed_transfer_does_not_hold_back_the_next(consent):
    start = timezone.now()
    schedule_at(start)
    Transfer.objects.update(status=Transfer.Status.FAILED)

    assert schedule_at(start + timedelta(minutes=1)) == 1


@pytest.mark.parametrize("change", ["consent_pause", "consent_withdraw"])
def test_stopped_consent_gets_no_scheduled_transfer(consent, change):
    getattr(consent_services, change)(consent=consent)

    assert services.transfer_schedule_due() == 0
    assert not Transfer.objects.exists()


def test_expired_consent_gets_no_scheduled_transfer(consent):
    after = consent.valid_until + timedelta(seconds=1)

    assert schedule_at(after) == 0  # not yet marked expired: its validity is over all the same
    with time_machine.travel(after, tick=False):
        assert consent_services.consent_expire_due() == 1
    assert schedule_at(after) == 0
    assert not Transfer.objects.exists()


def test_one_off_consent_gets_no_scheduled_transfer(consent):
    type(consent).objects.filter(pk=consent.pk).update(
        frequency=Frequency.ONE_OFF, frequency_limit=None, frequency_period=""
    )

    assert services.transfer_schedule_due() == 0
    assert not Transfer.objects.exists()


def test_scheduled_transfer_is_delivered(peers, consent):
    source, sink = peers
    source.answers = [Answer(body=b'{"steps": [4312]}')]

    services.transfer_schedule_due()
    transfer = relay_until_final(Transfer.objects.get(consent=consent))

    assert (transfer.status, transfer.scheduled) == ("delivered", True)
    [delivery] = sink.requests
    assert delivery.body == b'{"steps": [4312]}'
    assert delivery.headers["idempotency-key"] == f"{transfer.id}.1"


def test_withdrawn_consent_gets_no_transfer_at_the_next_due_time(peers, consent):
    source, sink = peers
    source.answers = [Answer(body=b"1"), Answer(body=b"2")]
    services.transfer_schedule_due()
    relay_until_final(Transfer.objects.get(consent=consent))
    consent_services.consent_withdraw(consent=consent)

    assert schedule_at(timezone.now() + timedelta(days=1, minutes=1)) == 0
    assert Transfer.objects.count() == 1
    assert (len(source.requests), len(sink.requests)) == (1, 1)
