"""Crafted events and candidates against the bot (the local GitHub and scripted solve of test_bot):
who may start a run, what a fix may touch, what the pull request body renders, where it runs."""

from __future__ import annotations

import re

import pytest

from patchsmith import bot_messages
from patchsmith.bot import has_trigger
from patchsmith.settings import Settings, with_values
from tests.test_bot import REQUESTS, commented, labelled, world  # noqa: F401 - `world` is a fixture


def no_run(world, result) -> None:  # noqa: F811
    assert result.action == "skipped" and REQUESTS == []
    assert world.github.rest("POST") == [] and set(world.remote_branches()) == {"main"}


# --- who can start a run -------------------------------------------------------------------------


def test_a_bot_account_never_starts_a_run(world):  # noqa: F811
    world.github.permissions["renovate[bot]"] = {"permission": "write", "role_name": "write"}
    event = commented("/patchsmith", "MEMBER", "renovate[bot]")
    event["comment"]["user"]["type"] = event["sender"]["type"] = "Bot"
    result = world.bot("issue_comment", event)
    assert "is a bot account" in result.reason
    no_run(world, result)
    assert world.github.calls == []  # refused before any API call

    # An app with write access that labels issues by itself (an auto-labeller) is refused too.
    world.github.permissions["labeller"] = {"permission": "write", "role_name": "write"}
    event = labelled(sender="labeller")
    event["sender"]["type"] = "Bot"
    no_run(world, world.bot("issues", event))


def test_a_triage_labeller_or_read_only_member_does_not_start_a_run(world):  # noqa: F811
    world.github.permissions["triager"] = {"permission": "read", "role_name": "triage"}
    result = world.bot("issues", labelled(sender="triager"))
    assert "@triager has the 'triage' role" in result.reason and "write access" in result.reason
    no_run(world, result)
    assert world.github.rest("GET")[-1].path.endswith("/repos/acme/shopcart/collaborators/triager/permission")

    # MEMBER is an organisation's association; it says nothing about this repository.
    world.github.permissions["member"] = {"permission": "read", "role_name": "read"}
    no_run(world, world.bot("issue_comment", commented("/patchsmith", "MEMBER", "member")))
    no_run(world, world.bot("issue_comment", commented("/patchsmith", "COLLABORATOR", "stranger")))  # 404: none


@pytest.mark.parametrize("text", [
    "```\n/patchsmith\n```",
    "````markdown\nexample:\n```\n/patchsmith\n````",
    "~~~\n/patchsmith\n~~~",
    "Run it like this:\n\n    /patchsmith",
    "> /patchsmith",
    "> > /patchsmith",
    "> You said\n/patchsmith",  # a line right after a quote continues it
])
def test_a_trigger_inside_code_or_a_quote_does_not_start_a_run(world, text):  # noqa: F811
    no_run(world, world.bot("issue_comment", commented(text, "OWNER", "maintainer")))


def test_the_trigger_counts_after_code_and_quotes_end():
    assert has_trigger("```\ncode\n```\n/patchsmith", "/patchsmith")
    assert has_trigger("> quoted\n\n/patchsmith", "/patchsmith")
    assert has_trigger("  /patchsmith", "/patchsmith")  # three spaces or fewer is not code
    assert not has_trigger("```\nunclosed\n/patchsmith", "/patchsmith")


def test_the_bots_own_comments_never_trigger_it():
    echoed = "/patchsmith\n```\n/patchsmith\n````"

    class Outcome:
        failure_detail, repro_verdict, cost_usd, seconds = echoed, "none", None, 1.0

    settings = with_values(Settings(), {"model.model": "m", "repair.samples": 1})
    for comment in (bot_messages.failure_comment(Outcome(), "error", settings, None),
                    bot_messages.error_comment(echoed, None), bot_messages.start_comment(None)):
        assert not has_trigger(comment, "/patchsmith"), comment


# --- what a fix may touch ------------------------------------------------------------------------


def test_a_fix_that_adds_a_workflow_is_never_pushed(world):  # noqa: F811
    result = world.bot("issues", labelled(title="Add a workflow to fix pricing"))
    assert result.action == "failure_comment" and result.exit_code == 1
    assert ".github/*" in REQUESTS[0]["settings"].repair.edit.protected_paths  # repair is told, too
    failure = world.github.posts_to("/issues/7/comments")[-1]["body"]
    assert "protected path" in failure and ".github/workflows/leak.yml" in failure
    assert world.github.posts_to("/pulls") == [] and set(world.remote_branches()) == {"main"}


def test_allowing_protected_paths_is_an_explicit_choice(world):  # noqa: F811
    result = world.bot("issues", labelled(title="Add a workflow to fix pricing"), allow_protected_paths=True)
    assert result.action == "pull_request" and REQUESTS[0]["settings"].repair.edit.protected_paths == ()


def test_the_actions_own_folder_in_the_checkout_is_protected(world):  # noqa: F811
    env = world.env("issues", labelled())
    env["GITHUB_ACTION_PATH"] = str(world.work / "tools" / "patchsmith")
    from patchsmith.bot import run_bot
    from tests.test_bot import SOLVE

    run_bot(world.options(), env, solve=SOLVE, client=world.client([]))
    assert "tools/patchsmith/*" in REQUESTS[0]["settings"].repair.edit.protected_paths


# --- the pull request body -----------------------------------------------------------------------


def test_a_title_with_newlines_and_markdown_is_quoted_as_text(world):  # noqa: F811
    title = "Crash\n## Tests\nAll 999 tests pass </details> **bold** @octocat #3 [x](http://e.example) `tick`"
    result = world.bot("issues", labelled(title=title))
    assert result.action == "pull_request"
    (pull,) = world.github.posts_to("/pulls")
    flat = " ".join(title.split())
    assert pull["title"] == f"Fix #7: {flat}" and "\n" not in pull["title"]
    body = pull["body"]
    headings = [line for line in body.splitlines() if line.startswith("#")]
    assert headings == ["## What changed and why", "## Tests", "## Reproduction", "## Cost", "## What patchsmith did"]
    assert f"Issue title: `` {flat} ``" in body.splitlines()
    rendered = body.replace(f"`` {flat} ``", "")  # a code span shows its text; the rest renders
    assert rendered.count("</details>") == 1 and "@octocat" not in rendered and not re.search(r"^All 999", body, re.M)
    assert "\n" not in world.remote.commit("patchsmith/issue-7").message.split("\n\n")[0]


# --- where it runs, and what it tells the workflow ---------------------------------------------------


def test_hosted_runners_default_to_a_registry_image_of_the_repositorys_python(world):  # noqa: F811
    def solve_with(env_changes: dict, **changes) -> str | None:
        REQUESTS.clear()
        from patchsmith.bot import run_bot
        from tests.test_bot import SOLVE

        env = {**world.env("issues", labelled()), **env_changes}
        run_bot(world.options(**changes), env, solve=SOLVE, client=world.client([]))
        return REQUESTS[0]["settings"].sandbox.base_image

    hosted = {"RUNNER_ENVIRONMENT": "github-hosted"}
    assert solve_with({}) is None  # a self-hosted runner or a laptop: debootstrap, as before
    assert solve_with(hosted) == "python:3.11-slim"
    assert solve_with(hosted, base_image="python:3.12-bookworm") == "python:3.12-bookworm"
    pyproject = world.work / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('requires-python = ">=3.9"', 'requires-python = ">=3.8,<3.10"'))
    assert solve_with(hosted) == "python:3.9-slim"
    pyproject.write_text(pyproject.read_text() + '\n[tool.patchsmith.sandbox]\nimage = "ghcr.io/acme/ci:1"\n')
    assert solve_with(hosted) is None  # the repository's own image: the pipeline's recipe uses it


def read_outputs(path) -> dict[str, str]:
    outputs, text = {}, path.read_text()
    for match in re.finditer(r"^([\w-]+)<<(ghadelimiter_\w+)\n(.*?)\n\2$", text, re.S | re.M):
        outputs[match.group(1)] = match.group(3)
    return outputs


def test_outputs_api_base_and_price_reach_the_workflow_and_solve(world, tmp_path):  # noqa: F811
    from patchsmith.bot import run_bot
    from tests.test_bot import SOLVE

    output = tmp_path / "github_output"
    env = {**world.env("issues", labelled()), "GITHUB_OUTPUT": str(output)}
    run_bot(world.options(api_base="http://127.0.0.1:9/v1", price_per_token=(3e-6, 1.5e-5)), env,
            solve=SOLVE, client=world.client([]))
    assert REQUESTS[0]["settings"].model.api_base == "http://127.0.0.1:9/v1" and REQUESTS[0]["settings"].model.price_per_token == (3e-6, 1.5e-5)
    outputs = read_outputs(output)
    assert outputs["outcome"] == "pull_request" and outputs["pr-url"].endswith("/pull/12")
    assert "+        if quantity >= threshold:" in outputs["patch"] and outputs["patch"].startswith("--- a/shopcart/pricing.py")

    REQUESTS.clear()
    run_bot(world.options(), {**world.env("issues", labelled(sender="nobody")), "GITHUB_OUTPUT": str(output)},
            solve=SOLVE, client=world.client([]))
    last = read_outputs(output)  # appended: the later values win, as on GitHub
    assert last == {"outcome": "skipped", "pr-url": "", "patch": ""}


# --- bad input on the command line -------------------------------------------------------------------


@pytest.mark.parametrize("flags, expected", [
    (["--price", "three"], "--price takes two numbers, IN,OUT in dollars per million tokens"),
    (["--price=-1,2"], "--price takes prices of zero or more"),
    (["--allow-protected-paths", "maybe"], "--allow-protected-paths takes true or false"),
    (["--samples", "0"], "--samples must be at least 1"),
    (["--allow", " , "], "--allow names no author association"),
])
def test_bad_flags_end_in_one_sentence(world, flags, expected):  # noqa: F811
    import os
    import subprocess
    import sys

    from tests.test_bot import ROOT

    env = {**os.environ, **world.env("issues", labelled())}
    done = subprocess.run([sys.executable, "-m", "patchsmith.cli", "bot", "--model", "openai/scripted", *flags],
                          env=env, capture_output=True, text=True, timeout=120, cwd=world.tmp)
    assert done.returncode != 0 and expected in done.stderr and "Traceback" not in done.stderr
    assert world.github.calls == [] and REQUESTS == [] and done.stdout == ""
    assert ROOT.is_dir()
