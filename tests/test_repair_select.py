"""Selection: fewest regression failures, then the reproduction verdict, then the majority of
normalized patches, then the earliest sample."""

from patchsmith.repair.select import ValidatedCandidate, Verdict, choose


def cand(number, normalized="A", failures=0, verdict=None):
    return ValidatedCandidate(number, f"diff {number}", normalized, failures, verdict)


def test_fewest_regression_failures_beat_an_earlier_majority():
    verdict = choose([cand(0, "A", 2), cand(1, "A", 2), cand(2, "B", 0)])
    assert verdict.chosen == 2
    assert "fewest regression failures (0)" in verdict.reason


def test_resolved_beats_the_majority_among_equals():
    verdict = choose([cand(0, "A", 0, "reproduced"), cand(1, "A", 0, "reproduced"), cand(2, "B", 0, "resolved")])
    assert verdict.chosen == 2


def test_majority_of_normalized_patches_then_earliest_sample():
    assert choose([cand(0, "A"), cand(1, "B"), cand(2, "B")]).chosen == 1
    assert choose([cand(3, "A"), cand(1, "B")]).chosen == 1  # a tie goes to the earliest sample


def test_candidates_without_regression_runs_still_vote():
    verdict = choose([cand(0, "A", None), cand(1, "B", None), cand(2, "B", None)])
    assert verdict.chosen == 1 and dict(verdict.votes) == {0: 1, 1: 2, 2: 2}


def test_no_candidate_and_json_round_trip():
    assert choose([]).chosen is None
    verdict = choose([cand(0), cand(1, "B")])
    assert Verdict.from_json(verdict.to_json()) == verdict
