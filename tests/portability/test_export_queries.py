"""The export reads a bounded number of queries, whatever the resident's counts."""

from django.urls import reverse

from tests.portability.history import bulk_history, history

# Session, user, the resident's saved language, checkpoint signing (integrating the
# queue, savepoints), account, consents and their sources, links, keys, receipts and
# their proofs' nodes, transfers: a few each, none per row.
MAX_QUERIES = 33


def test_an_export_of_one_consent_reads_a_bounded_number_of_queries(
    client, aino, wellbeing, wearable, django_assert_max_num_queries
):
    history(aino, sink=wellbeing, source=wearable)
    client.force_login(aino)
    with django_assert_max_num_queries(MAX_QUERIES):
        b"".join(client.get(reverse("my-data-export")).streaming_content)


def test_an_export_of_1000_consents_and_10000_transfers_reads_as_few(
    client, aino, wellbeing, wearable, django_assert_max_num_queries
):
    (consent,) = history(aino, sink=wellbeing, source=wearable)
    bulk_history(consent, consents=999, transfers=10_000)
    client.force_login(aino)
    with django_assert_max_num_queries(MAX_QUERIES):
        body = b"".join(client.get(reverse("my-data-export")).streaming_content)
    assert body.count(b'"parts":[') == 10_001
