"""Helsinki's resident records: a demo source of what the city knows of a resident who leaves.

Her addresses in Helsinki, and how many books she borrowed from its libraries each
year: what a city she moves to may use to welcome her (a library card with her
history, the services of her new district). Neither is special-category data.
"""

from datetime import UTC, date, datetime

from demo.sources import Source, daily

SLUG = "helsinki-records"


def _addresses(user: str) -> list[dict]:
    # Fixed dates: an address history does not move with the calendar as daily data does.
    return [
        {"from": "2016-09-01", "to": "2020-05-31", "municipality": "Helsinki",
         "district": "Vallila"},
        {"from": "2020-06-01", "to": None, "municipality": "Helsinki", "district": "Kallio"},
    ]  # fmt: skip


def _library_loans(user: str) -> list[dict]:
    this_year = datetime.now(UTC).year
    return [
        {"year": year, "loans": daily(user, date(year, 1, 1), 10, 60, "library")}
        for year in range(this_year - 3, this_year)
    ]


SOURCE = Source(
    slug=SLUG, path="/helsinki/", name="Helsinki resident records",
    owner_id="helsinki-resident-1", links_caption="links.accounts",
    data={"city.address_history": _addresses, "library.loans": _library_loans},
)  # fmt: skip
