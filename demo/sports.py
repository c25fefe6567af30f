"""Espoo's sports services: a demo source of the city's own records about the resident.

Per day, her visits to the city's swimming halls and gyms (her sports card is read
at the door), and the blood pressure measured at a health centre on the days she
went there, which is health data and so registered as sensitive.
"""

from demo.sources import Source, daily, last_days

SLUG = "espoo-sports"


def _visits(user: str) -> list[dict]:
    return [
        {"date": day.isoformat(), "swims": daily(user, day, 0, 2, "swims"),
         "gym_visits": daily(user, day, 0, 2, "gym")}
        for day in last_days()
    ]  # fmt: skip


def _blood_pressure(user: str) -> list[dict]:
    # Measured on some days only: a health centre is not visited daily.
    return [
        {"date": day.isoformat(), "systolic": daily(user, day, 110, 140),
         "diastolic": daily(user, day, 70, 90)}
        for day in last_days()
        if daily(user, day, 0, 3, "health centre") == 0
    ]  # fmt: skip


SOURCE = Source(
    slug=SLUG, path="/sports/", name="Espoo sports services", owner_id="espoo-resident-1",
    links_caption="links.accounts",
    data={"sports.visits": _visits, "health.blood_pressure": _blood_pressure},
)  # fmt: skip
