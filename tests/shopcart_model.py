"""A scripted model that knows how to answer patchsmith's prompts about examples/shopcart.

It reads each request's prompt and answers as the stage needs: files, elements, lines,
reproduction scripts, regression removals and repair candidates. The repair candidates are
several wrong ones and one right one, in an order where neither the earliest sample nor a plain
majority would pick the right one: only the sandbox's evidence does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scripted_model import ScriptedModel

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shopcart"

REPRO_SCRIPT = '''```python
from decimal import Decimal
from shopcart import bulk_unit_price

at_ten = bulk_unit_price("2.00", 10)
at_fifty = bulk_unit_price("2.00", 50)
print("10 items:", at_ten, "50 items:", at_fifty)
if at_ten == Decimal("1.90") and at_fifty == Decimal("1.76"):
    print("PATCHSMITH_VERDICT: resolved")
else:
    print("PATCHSMITH_VERDICT: reproduced")
```'''


def _edit(search: str, replace: str) -> str:
    return f"@@@ FILE shopcart/pricing.py\n@@@ SEARCH\n{search}\n@@@ REPLACE\n{replace}\n@@@ END\n"


LOOP = "        if quantity > threshold:"
# Touches only a docstring: applies, breaks nothing, fixes nothing.
DOCSTRING_ONLY = _edit(
    '    """The unit price after the bulk discount that applies to `quantity` items."""',
    '    """The unit price after the bulk discount for `quantity` items (see BULK_TIERS)."""',
)
# Gives every order the top tier: the reproduction still fails and a regression test breaks.
EVERYONE_DISCOUNTED = _edit(LOOP, "        if quantity >= 0:")
# The fix.
RIGHT = _edit(LOOP, "        if quantity >= threshold:")
# The same fix written differently: agrees with RIGHT after normalization.
RIGHT_AGAIN = _edit(LOOP, "        if threshold <= quantity:")
# SEARCH text that is not in the file: rejected before the sandbox.
NOT_IN_FILE = _edit("        if quantity > limit:", "        if quantity >= limit:")

REPAIR_ANSWERS = [DOCSTRING_ONLY, EVERYONE_DISCOUNTED, RIGHT, NOT_IN_FILE]


def loop_line() -> int:
    lines = (EXAMPLE / "shopcart" / "pricing.py").read_text().splitlines()
    return lines.index(LOOP) + 1


def answer(request: dict, repair_answers: list[str] = REPAIR_ANSWERS, repro_script: str = REPRO_SCRIPT) -> list[str]:
    prompt = request["messages"][-1]["content"]
    n = int(request.get("n") or 1)
    greedy = float(request.get("temperature") or 0.0) == 0.0
    if "Which files would a developer edit" in prompt:
        text = "```\nshopcart/pricing.py\nshopcart/cart.py\n```"
    elif "Name the classes, functions" in prompt:
        text = "```\nshopcart/pricing.py::bulk_unit_price\n```"
    elif "Where exactly must the code change" in prompt:
        line = loop_line()
        text = f"```\nshopcart/pricing.py:{line - 2}-{line + 2} bulk_unit_price\n```"
    elif "PATCHSMITH_VERDICT" in prompt and "standalone Python script" in prompt:
        text = repro_script
    elif "Existing tests that pass before the fix" in prompt:
        text = "NONE"
    elif "Answer with one or more edit blocks" in prompt:
        answers = repair_answers[:1] if greedy else repair_answers[1:]
        return (answers * n)[:n]
    else:
        raise AssertionError(f"unexpected prompt: {prompt[:200]}")
    return [text] * n


def shopcart_model(**answers) -> ScriptedModel:
    """A server whose every request is answered by `answer` (enough entries for any run);
    `repair_answers` (the greedy one first) and `repro_script` replace the defaults."""
    return ScriptedModel([lambda request: answer(request, **answers)] * 200)


@pytest.fixture(autouse=True)
def fresh_model_cache(tmp_path, monkeypatch):
    """Each test starts with an empty model-response cache, so its scripted answers are the ones used."""
    monkeypatch.setattr("patchsmith.llm.default_cache_dir", lambda: tmp_path / "model-cache")
