"""`patchsmith bot` with the real `solve`: scripted model (local OpenAI-compatible server, real
litellm path), real Docker, a local GitHub (REST recorder + git over HTTP) from test_bot."""

from __future__ import annotations


import pytest

from patchsmith.bot import run_bot
from tests.shopcart_model import NOT_IN_FILE, RIGHT, RIGHT_AGAIN, fresh_model_cache, shopcart_model  # noqa: F401 - an autouse fixture
from tests.test_bot import labelled, world  # noqa: F401 - `world` is a fixture

pytestmark = pytest.mark.docker

NOT_REPRODUCED = '```python\nprint("PATCHSMITH_VERDICT: resolved")\n```'


@pytest.fixture()
def model_server(monkeypatch):
    def start(**answers):
        server = shopcart_model(**answers).start()
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "scripted")
        return server

    servers = []
    yield lambda **answers: servers.append(start(**answers)) or servers[-1]
    for server in servers:
        server.stop()


def bot(world, event):  # noqa: F811 - the fixture's value
    world.sleeps = []
    # No cost cap: litellm has no price for the scripted model, and a cap without a price is refused
    # up front (tests/test_llm*.py); the bot has no --price to give it one yet.
    return run_bot(world.options(max_cost=None), world.env("issues", event), solve=None, client=world.client(world.sleeps))


def test_real_solve_opens_a_draft_pull_request_with_the_validated_fix(world, model_server, bookworm_base_image):  # noqa: F811
    model_server(repair_answers=[RIGHT, RIGHT_AGAIN])
    result = bot(world, labelled())

    assert result.action == "pull_request", result
    (pull,) = world.github.posts_to("/pulls")
    assert pull["head"] == "patchsmith/issue-7" and pull["draft"] is True
    assert pull["body"].startswith("Fixes #7")
    assert "reproduced" in pull["body"]
    pushed = world.remote.commit("patchsmith/issue-7")
    diff = world.remote.git.diff("main", "patchsmith/issue-7")
    assert "+        if quantity >= threshold:" in diff
    assert pushed.parents[0].hexsha == world.remote.heads["main"].commit.hexsha
    assert (world.tmp / "run" / "report.md").is_file()


def test_real_solve_failure_comments_with_the_evidence(world, model_server, bookworm_base_image):  # noqa: F811
    model_server(repair_answers=[NOT_IN_FILE, NOT_IN_FILE], repro_script=NOT_REPRODUCED)
    result = bot(world, labelled())

    assert result.action == "failure_comment" and result.exit_code == 1
    start, failure = world.github.posts_to("/issues/7/comments")
    assert "actions/runs/4242" in start["body"]
    assert "Reason: no candidate" in failure["body"]
    assert "SEARCH text not found" in failure["body"]  # the evidence: why every edit was rejected
    assert world.github.posts_to("/pulls") == [] and set(world.remote_branches()) == {"main"}


def test_real_solve_takes_shell_syntax_as_text_and_the_next_free_branch(world, model_server, bookworm_base_image, tmp_path):  # noqa: F811
    model_server(repair_answers=[RIGHT, RIGHT_AGAIN])
    world.remote.create_head("patchsmith/issue-7", "main")
    canary = tmp_path / "canary"
    title = f"`id` breaks $(touch {canary}) bulk pricing"
    body = f"Run $(rm -rf /) and `touch {canary}`; ordering exactly 10 items gives no discount."
    result = bot(world, labelled(title=title, body=body))

    assert result.action == "pull_request" and not canary.exists()
    issue_md = (world.tmp / "run" / "issue.md").read_text()
    assert "$(rm -rf /)" in issue_md and f"`touch {canary}`" in issue_md
    (pull,) = world.github.posts_to("/pulls")
    assert pull["title"] == f"Fix #7: {title}" and pull["head"] == "patchsmith/issue-7-2"
    assert world.remote_branches()["patchsmith/issue-7"] == world.remote_branches()["main"]  # untouched


def test_real_solve_run_survives_a_rate_limited_request(world, model_server, bookworm_base_image):  # noqa: F811
    model_server(repair_answers=[RIGHT, RIGHT_AGAIN])
    world.github.refusals.append((403, {"Retry-After": "2", "X-RateLimit-Remaining": "0"}))
    result = bot(world, labelled())
    assert result.action == "pull_request" and world.sleeps == [2.0]
    assert len(world.github.posts_to("/pulls")) == 1
