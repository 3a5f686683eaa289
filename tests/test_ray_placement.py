"""The driver's placement of environments on nodes (no cluster needed)."""

from __future__ import annotations

from types import SimpleNamespace

from patchsmith.swebench_runner.ray_cluster import Node, environment_groups, place_groups


def test_each_environment_goes_to_one_node_largest_first_onto_the_least_loaded_per_cpu():
    nodes = [Node("a", 1.0, "small"), Node("b", 4.0, "big")]
    placed = place_groups({"django@3.0": 8, "sympy@1.1": 3, "flask@2.0": 1}, nodes)
    # The 8 first, onto an empty node (the tie goes to the first id); then the 3 onto the empty
    # one; then the 1 onto the node with less work per CPU (3/4 on b against 8/1 on a).
    assert placed["django@3.0"].node_id == "a"
    assert placed["sympy@1.1"].node_id == "b"
    assert placed["flask@2.0"].node_id == "b"


def test_groups_keep_the_dataset_instances_of_their_version():
    rows = [SimpleNamespace(instance_id=f"i{n}", repo="r", version=v) for n, v in enumerate(["1", "1", "2"])]
    groups = environment_groups(rows[:1] + rows[2:], rows)
    assert list(groups) == ["r@1", "r@2"]
    assert [i.instance_id for i in groups["r@1"][0]] == ["i0"]
    assert [i.instance_id for i in groups["r@1"][1]] == ["i0", "i1"]  # the whole version decides the commit
