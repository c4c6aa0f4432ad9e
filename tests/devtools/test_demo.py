"""The demo's evaluation calendar: six month ends up to the sample's end, oldest first."""

from __future__ import annotations

from datetime import date

from tierwise.pipeline import evaluation_date_for
from tierwise_dev.demo import MONTHS, REVIEW_DAY, SAMPLE_END, month_ends


def test_six_month_ends_up_to_the_sample_end() -> None:
    assert month_ends(SAMPLE_END, MONTHS) == [
        date(2025, 7, 31),
        date(2025, 8, 31),
        date(2025, 9, 30),
        date(2025, 10, 31),
        date(2025, 11, 30),
        date(2025, 12, 31),
    ]


def test_month_ends_cross_a_year_and_february() -> None:
    assert month_ends(date(2024, 3, 31), 3) == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]


def test_each_runs_logical_date_evaluates_its_month_end() -> None:
    from datetime import timedelta

    for as_of in month_ends(SAMPLE_END, MONTHS):
        assert evaluation_date_for(as_of + timedelta(days=REVIEW_DAY)) == as_of
