"""The Ray driver's placement, per-node queues, progress board and records of resolved versions (no cluster needed)."""

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


def test_each_node_gets_what_it_runs_at_once_and_an_idle_node_takes_from_the_busiest():
    from patchsmith.swebench_runner.ray_queues import NodeQueues

    a, b = Node("a", 1.0, "node-a"), Node("b", 1.0, "node-b")
    groups = {"x@1": ["x1", "x2", "x3"], "y@1": ["y1"], "z@1": ["z1", "z2"]}
    queues = NodeQueues(groups, {"x@1": a, "z@1": a, "y@1": b}, {"a": 1, "b": 1})
    assert queues.take() == [("a", "x@1", "x1"), ("b", "y@1", "y1")]
    assert queues.take() == []  # both nodes busy: nothing more is handed out
    queues.release("b")
    # b has nothing of its own: it takes from a, the environment a would reach last (z), not x.
    assert queues.take() == [("b", "z@1", "z1")]
    queues.release("b")
    assert queues.take() == [("b", "z@1", "z2")]  # z again: an environment b already runs
    queues.release("b")
    assert queues.take() == [("b", "x@1", "x2")]
    assert (queues.running, queues.waiting("a"), queues.waiting("b")) == ({"a": 1, "b": 1}, 1, 0)


def test_the_node_board_counts_per_node_from_the_queues_and_gives_an_eta():
    from patchsmith.swebench_runner.ray_progress import NodeBoard
    from patchsmith.swebench_runner.ray_queues import NodeQueues

    now = [100.0]
    queues = NodeQueues({"x@1": ["x1", "x2", "x3"], "y@1": ["y1"]}, {"x@1": Node("a", 2.0, "na"), "y@1": Node("b", 1.0, "nb")},
                        {"a": 2, "b": 1})
    board = NodeBoard({"a": "na", "b": "nb"}, total=4, clock=lambda: now[0])
    queues.take()
    assert board.line(queues) == "nodes: na 0 done, 0 failed, 2 running, 1 waiting; nb 0 done, 0 failed, 1 running, 0 waiting; ETA ?"
    now[0] = 130.0
    queues.release("a")
    board.finished("na", failed=False)
    queues.release("b")
    board.finished("nc", failed=True)  # b's task ran on nc (a retry after b died)
    # 2 finished in 30 s, 2 left: 30 s more at that rate.
    assert board.line(queues) == ("nodes: na 1 done, 0 failed, 1 running, 1 waiting; nb 0 done, 0 failed, 0 running, 0 waiting; "
                                  "nc 0 done, 1 failed; ETA 30s")
    board.not_started()  # one of the two left will not be handed out (infer's total cost cap)
    assert board.line(queues).endswith("ETA 15s") and "2 of 3 finished" in str(board.table(queues).caption)


def test_a_record_pins_public_releases_only_and_names_what_differs():
    from patchsmith.swebench_runner.resolved import constraints, differences

    first = "Floaty==1.0\nzope.interface==5.4\n-e git+https://x/y@abc#egg=proj\nproj==0.1.dev3+g0abc.d20240101\nother @ file:///w\n"
    assert constraints(first) == "floaty==1.0\nzope-interface==5.4\n"  # the repository's own build is not pinned
    later = "floaty==2.0\nzope_interface==5.4\nproj==0.1.dev3+g0abc.d20261202\nnew==1\n"
    assert differences(first, later) == ["floaty 2.0 instead of 1.0", "new 1 not in the record"]
    assert differences(first, first.replace("d20240101", "d20991231")) == []


def _board_run(stream=None) -> None:
    """What the driver shows for a run of 3 instances on two nodes, one of which fails."""
    from patchsmith.swebench_runner.ray_progress import BoardDisplay, NodeBoard
    from patchsmith.swebench_runner.ray_queues import NodeQueues

    queues = NodeQueues({"x@1": ["x1", "x2"], "y@1": ["y1"]}, {"x@1": Node("a", 1.0, "node-a"), "y@1": Node("b", 1.0, "node-b")},
                        {"a": 1, "b": 1})
    board, display = NodeBoard({"a": "node-a", "b": "node-b"}, total=3), BoardDisplay(stream)
    display.message("environment x@1: 2 instance(s), preferably on node node-a")
    with display.showing(board, queues):
        queues.take()
        for done, (node_id, name, failed) in enumerate([("a", "node-a", False), ("b", "node-b", True), ("a", "node-a", False)], 1):
            queues.release(node_id)
            queues.take()
            board.finished(name, failed=failed)
            display.finished(f"[{done}/3] i{done} on {name}: {'error: x' if failed else 'resolved'}")


def test_in_a_pipe_the_board_is_a_plain_line_after_each_instance():
    import io

    out = io.StringIO()  # not a terminal
    _board_run(out)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue()
    assert lines[0] == "environment x@1: 2 instance(s), preferably on node node-a"
    assert lines[1::2] == ["[1/3] i1 on node-a: resolved", "[2/3] i2 on node-b: error: x", "[3/3] i3 on node-a: resolved"]
    assert lines[-1].startswith("nodes: node-a 2 done, 0 failed, 0 running, 0 waiting; node-b 0 done, 1 failed, 0 running, 0 waiting; ETA ")


def test_on_a_terminal_the_board_is_one_live_table_with_a_row_per_node():
    """The display code run under a pseudo-terminal: rich's Live table, redrawn in place."""
    import os
    import pty
    import re
    import subprocess
    import sys

    controller, terminal = pty.openpty()
    code = "import sys; sys.path.insert(0, sys.argv[1]); from test_ray_placement import _board_run; _board_run()"
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    child = subprocess.Popen([sys.executable, "-c", code, os.path.dirname(__file__)], stdin=terminal, stdout=terminal,
                             stderr=terminal, env=env)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert child.wait(timeout=60) == 0, b"".join(chunks).decode(errors="replace")
    os.close(controller)
    shown = b"".join(chunks).decode(errors="replace")
    assert "\x1b[" in shown  # cursor codes: the table is redrawn, not printed again
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)
    assert "nodes: " not in plain  # no plain board line on a terminal
    assert "[2/3] i2 on node-b: error: x" in plain
    # The last drawing's rows: node, done, failed, running, waiting.
    assert re.findall(r"node-a\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)", plain)[-1] == ("2", "0", "0", "0")
    assert re.findall(r"node-b\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)", plain)[-1] == ("0", "1", "0", "0")
    assert "3 of 3 finished; ETA 0s" in plain
