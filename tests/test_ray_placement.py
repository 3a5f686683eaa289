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


def test_the_node_board_counts_per_node_and_derives_running_waiting_and_the_eta():
    from patchsmith.swebench_runner.ray_progress import NodeBoard

    now = [100.0]
    board = NodeBoard(placed={"a": 3, "b": 1}, slots={"a": 2, "b": 1}, clock=lambda: now[0])
    assert board.line() == "nodes: a 0 done, 0 failed, 2 running, 1 waiting; b 0 done, 0 failed, 1 running, 0 waiting; ETA ?"
    now[0] = 130.0
    board.finished("a", "a", failed=False)
    board.finished("b", "a", failed=True)  # b's instance ran on a (a retry after b died)
    # 2 finished in 30 s, 2 left: 30 s more at that rate.
    assert board.line() == "nodes: a 1 done, 1 failed, 2 running, 0 waiting; b 0 done, 0 failed, 0 running, 0 waiting; ETA 30s"
    now[0] = 250.0
    board.finished("a", "a", failed=False)
    board.finished("a", "a", failed=False)
    assert board.line().endswith("a 3 done, 1 failed, 0 running, 0 waiting; b 0 done, 0 failed, 0 running, 0 waiting; ETA 0s")
