"""The simulation's page, from a summary as tierwise.simulate writes it, rendered in headless Chromium."""

from __future__ import annotations

from pathlib import Path

from tests.browser import dump_dom, screenshot

from tierwise.reporting.page import write_page
from tierwise.simulate_report import render

SUMMARY = {
    "as_of_date": "2025-12-31",
    "customers": 10,
    "ladder": "/rules/proposed.csv",
    "proposed_vars": {"tier_ladder_file": "/rules/proposed.csv"},
    "moves": {"changed": 3, "up": 2, "down": 1, "across": 0},
    "tier_mix": [
        {
            "tier_code": "gold",
            "tier_rank": 2,
            "now_customers": 1,
            "proposed_customers": 2,
            "now_revenue": 900.0,
            "proposed_revenue": 1300.0,
        },
        {
            "tier_code": "bronze",
            "tier_rank": 1,
            "now_customers": 3,
            "proposed_customers": 3,
            "now_revenue": 450.0,
            "proposed_revenue": 150.0,
        },
        {
            "tier_code": "unrated",
            "tier_rank": 0,
            "now_customers": 6,
            "proposed_customers": 5,
            "now_revenue": 50.0,
            "proposed_revenue": 0.0,
        },
    ],
    "migration_matrix": [
        {"now": "gold", "proposed": "gold", "customers": 1},
        {"now": "bronze", "proposed": "gold", "customers": 1},
        {"now": "bronze", "proposed": "bronze", "customers": 1},
        {"now": "bronze", "proposed": "unrated", "customers": 1},
        {"now": "unrated", "proposed": "bronze", "customers": 1},
        {"now": "unrated", "proposed": "unrated", "customers": 5},
    ],
    "notifications": {
        "now": 0,
        "proposed": 1,
        "by_type": {"upgrade": 1},
        "changes": [
            {
                "customer_id": "C2",
                "from_tier_code": "bronze",
                "to_tier_code": "gold",
                "change_type": "upgrade",
                "reason": "gold: monetary 400.00 >= 300.00",
            },
        ],
    },
    "newly_within_reach": 1,
    "newly_within_reach_customers": [
        {
            "customer_id": "C7",
            "tier_code": "bronze",
            "next_tier_code": "gold",
            "gap": 20.0,
            "next_tier_min_value": 300.0,
        },
    ],
    "growable_gap_ratio": {"now": 0.2, "proposed": 0.2},
}


def _change(customer: str, direction: str, now: str, proposed: str) -> dict[str, str]:
    return {
        "customer_id": customer,
        "direction": direction,
        "now_tier_code": now,
        "proposed_tier_code": proposed,
        "now_measure_value": "400.00",
        "proposed_measure_value": "400.00",
        "proposed_tier_rule": "a rule",
    }


CHANGES = [
    _change("C2", "up", "bronze", "gold"),
    _change("C5", "up", "unrated", "bronze"),
    _change("C3", "down", "bronze", "unrated"),
]


def test_the_page_renders_with_its_charts_and_numbers(tmp_path: Path) -> None:
    page = write_page(tmp_path / "report.html", render(SUMMARY, CHANGES))
    dom = dump_dom(page.as_uri())
    assert dom.count("<svg") == 3
    for title in (
        "Customers moving up (2)",
        "Customers moving down (1)",
        "Newly within reach of the next tier (1)",
        "Notifications it would send (now 0, proposed) (1)",
        "Migration: tier now",
    ):
        assert title in dom
    assert "1,300.00" in dom and ">C7<" in dom and ">C3<" in dom
    shot = screenshot(page.as_uri(), tmp_path / "report.png", height=1200)
    assert shot.stat().st_size > 20_000  # a blank page is a few kB
