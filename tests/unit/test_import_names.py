"""The dry run's one-line list of new projects and phases stays readable for a whole practice."""

import pandas as pd

from milestone.services.imports import ImportResult


def _result(projects: int, phases: int) -> ImportResult:
    return ImportResult(
        created=0,
        updated=0,
        unchanged=0,
        dry_run=True,
        changes=pd.DataFrame(),
        notes=[],
        new_projects={f"Job {i:03d}": f"Client {i}" for i in range(projects)},
        new_phases=[f"Phase {i}" for i in range(phases)],
    )


def test_a_few_new_names_are_all_listed():
    assert _result(2, 1).new_names == "2 new projects: Job 000, Job 001, 1 new phase: Phase 0"


def test_a_long_list_shows_the_first_ten_and_how_many_more():
    text = _result(194, 3).new_names
    assert text.startswith("194 new projects: Job 000, Job 001,")
    assert "Job 009 and 184 more" in text and "Job 010" not in text
    assert text.endswith("3 new phases: Phase 0, Phase 1, Phase 2")
    assert _result(0, 0).new_names == ""
