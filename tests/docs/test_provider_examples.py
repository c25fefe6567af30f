"""docs/providers.md: every shell example, run against a live operator with the demo seeded."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from tests.docs.conftest import link_token
from tests.docs.examples import DOCS, examples, report, run, shell_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.shell]


def test_provider_examples_answer_as_documented(demo_world, consent, settings):
    eero = get_user_model().objects.create_user(username="eero")
    found = examples(DOCS / "providers.md")

    outcomes = run(
        found,
        # The examples read the demo's credentials from var/demo.json, as on `make run`.
        cwd=Path(settings.VAR_DIR).parent,
        env=shell_environment(
            OMADATA=demo_world.operator,
            RETURN_URL=f"{demo_world.url}/wellbeing/back",
            CONSENT_ID=str(consent.id),
            LINK_TOKEN=link_token(demo_world, eero),
        ),
    )

    assert found
    assert report(outcomes) == ""
