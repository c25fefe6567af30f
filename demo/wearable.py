"""The Askel smartwatch: a demo source with one signed-in watch owner and a week of data."""

from demo.sources import Source, daily, last_days

SLUG = "wearable"


def _steps(user: str) -> list[dict]:
    return [
        {"date": day.isoformat(), "steps": daily(user, day, 2000, 14000)} for day in last_days()
    ]


def _heart_rate(user: str) -> list[dict]:
    return [
        {"date": day.isoformat(), "resting_bpm": daily(user, day, 52, 72)} for day in last_days()
    ]


SOURCE = Source(
    slug=SLUG, path="/wearable/", name="Askel", owner_id="askel-user-1", links_caption="links",
    data={"wellbeing.steps": _steps, "wellbeing.heart_rate": _heart_rate},
)  # fmt: skip
