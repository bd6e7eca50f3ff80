"""Planning waves from `canary-apps` and `waves`: which targets each wave holds."""

from __future__ import annotations

import pytest

from promote_action.errors import UsageError
from promote_action.inputs import load_inputs
from promote_action.operations.heroku.targets import AppRef, TargetPlan
from promote_action.operations.heroku.waves import pinned_waves, plan_waves

TARGETS = [
    TargetPlan(
        app=AppRef(id=f"id-{n}", name=f"app-{n:02d}"),
        current_release_id=None,
        current_version=None,
        current_slug_id=None,
        stack=None,
    )
    for n in range(1, 11)
]


def planned(**inputs: str) -> list[tuple[bool, list[str]]]:
    waves = plan_waves(load_inputs(inputs, {}), TARGETS)
    assert [w.number for w in waves] == list(range(1, len(waves) + 1))
    return [(w.canary, [i.removeprefix("id-") for i in w.app_ids]) for w in waves]


def test_no_waves_without_the_inputs():
    assert planned() == []


def test_sizes_are_cumulative_and_percentages_round_up():
    assert planned(waves="1, 25%, 100%") == [
        (False, ["1"]),
        (False, ["2", "3"]),
        (False, ["4", "5", "6", "7", "8", "9", "10"]),
    ]


def test_targets_beyond_the_last_size_form_a_final_wave():
    assert planned(waves="5") == [
        (False, ["1", "2", "3", "4", "5"]),
        (False, ["6", "7", "8", "9", "10"]),
    ]


def test_canary_comes_first_and_counts_towards_the_sizes():
    assert planned(canary_apps="app-07, app-09", waves="1, 50%") == [
        (True, ["7", "9"]),
        (False, ["1", "2", "3"]),
        (False, ["4", "5", "6", "8", "10"]),
    ]


def test_canary_alone_then_everything_else():
    assert planned(canary_apps="id-3") == [
        (True, ["3"]),
        (False, ["1", "2", "4", "5", "6", "7", "8", "9", "10"]),
    ]


def test_app_lists_after_the_canary_must_cover_every_target():
    rest = ", ".join(f"app-{n:02d}" for n in range(3, 11))
    assert planned(canary_apps="app-01", waves=f"app-02; {rest}") == [
        (True, ["1"]),
        (False, ["2"]),
        (False, [str(n) for n in range(3, 11)]),
    ]
    with pytest.raises(UsageError, match="app-01 is in two waves"):
        planned(canary_apps="app-01", waves=f"app-01, app-02; {rest}")


def test_pinned_waves_plan_the_same_waves_again():
    waves = plan_waves(load_inputs({"canary_apps": "app-05", "waves": "3"}, {}), TARGETS)
    again = plan_waves(load_inputs({}, {}).model_copy(update=pinned_waves(waves)), TARGETS)
    assert [w.app_ids for w in again] == [w.app_ids for w in waves]
    assert pinned_waves([]) == {"canary_apps": [], "waves": None}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("101%", "percentages up to 100%"),
        ("1, a-b-c", "not both"),
        ("UPPER; app-01", "not a Heroku app name"),
        (", ;", "expected sizes such as"),
    ],
)
def test_the_waves_input_says_what_it_accepts(value: str, message: str):
    with pytest.raises(UsageError, match=message):
        load_inputs({"waves": value}, {})
