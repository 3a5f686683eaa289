"""Robustness: malformed model answers never crash parsing or application; each is a rejected
candidate with its reason. Seeded, so a failure reproduces."""

import collections
import json
import random

from patchsmith.repair import Edit, EditResult, apply_answer, format_edits

SEED = 20240611
FILES = {
    "app/core.py": (
        "def load(path):\n"
        "    with open(path) as handle:\n"
        "        return handle.read()\n"
        "\n"
        "\n"
        "def save(path, data):\n"
        "    with open(path, 'w') as handle:\n"
        "        handle.write(data)\n"
        "\n"
        "\n"
        "def twice(x):\n"
        "    if x is None:\n"
        "        return None\n"
        "    return x * 2\n"
        "\n"
        "\n"
        "def thrice(x):\n"
        "    if x is None:\n"
        "        return None\n"
        "    return x * 3\n"
    ),
    "app/util.py": "VALUE = 1\n\n\ndef helper():\n    return VALUE\n",
    "docs/index.md": "# Title\n\nSome text.\n",
}
GOOD = [
    Edit("app/core.py", "    return x * 2\n", "    return x + x\n"),
    Edit("app/util.py", "VALUE = 1\n", "VALUE = 2\n"),
    Edit("app/core.py", "        handle.write(data)\n", "        handle.write(str(data))\n"),
]
DUPLICATED = "    if x is None:\n        return None\n"  # in twice() and thrice()


def junk(rng: random.Random, size: int) -> str:
    return bytes(rng.randrange(256) for _ in range(size)).decode("utf-8", errors="replace")


def truncated(rng):
    text = format_edits(rng.sample(GOOD, rng.randint(1, 3)))
    last = text.rindex("@@@ SEARCH")
    return text[: rng.randrange(last + 1, text.rindex("@@@ END"))]  # cut inside the last block


def wrong_file(rng):
    edit = rng.choice(GOOD)
    path = rng.choice(["app/cor.py", "core.py", "app/core.pyc", "src/app/core.py", junk(rng, 8).strip() or "x"])
    return format_edits([Edit(path, edit.search, edit.replace)])


def not_unique(rng):
    replace = DUPLICATED.replace("None\n", rng.choice(["0\n", "x\n", "-1\n"]))
    search = DUPLICATED if rng.random() < 0.5 else DUPLICATED.replace("    ", "  ")
    return format_edits([Edit("app/core.py", search, replace)])


def binary_junk(rng):
    noise = junk(rng, rng.randint(1, 3000))
    if rng.random() < 0.5:
        return noise
    edit = rng.choice(GOOD)  # junk where the SEARCH text should be
    return format_edits([Edit(edit.path, noise + "\n", edit.replace)])


def binary_bytes(rng):
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))


def huge(rng):
    if rng.random() < 0.5:
        return "@@@ FILE app/core.py\n@@@ SEARCH\n" + "x = 1\n" * 100_000  # over the length limit
    lines = "".join(f"line_{n} = {n}\n" for n in range(rng.randint(2_000, 20_000)))
    return format_edits([Edit("app/core.py", lines, lines + "extra = 0\n")])


def marker_soup(rng):
    pieces = ["@@@ FILE app/util.py", "@@@ SEARCH", "@@@ REPLACE", "@@@ END", "@@@ FILE", "@@@ SEARCH line 99999999999"]
    lines = [
        rng.choice(pieces) if rng.random() < 0.5 else junk(rng, 12).replace("@", "")
        for _ in range(rng.randint(1, 30))
    ]
    return "\n".join(lines)


def broken_syntax(rng):
    edit = rng.choice(GOOD)
    broken = edit.search.rstrip("\n") + rng.choice(["(", " +", ":", "]"]) + "\n"
    return format_edits([Edit(edit.path, edit.search, broken)])


def whitespace_only(rng):
    edit = rng.choice(GOOD)
    return format_edits([Edit(edit.path, edit.search, edit.search.replace("\n", rng.choice(["  \n", "\t\n"])))])


def unsafe_path(rng):
    path = rng.choice(["../outside.py", "/etc/passwd", "app/../../x.py", "C:/x.py", "app/\x00core.py"])
    return format_edits([Edit(path, "", "x = 1\n")])


def one_bad_among_good(rng):
    edits = rng.sample(GOOD, 2) + [Edit("app/core.py", "def missing():\n", "def found():\n")]
    rng.shuffle(edits)
    return format_edits(edits)


# Each kind of fault, and the reasons it may be rejected with.
KINDS = {
    truncated: ("truncated", "has no SEARCH block"),
    wrong_file: ("file not found", "unsafe path"),
    not_unique: ("not unique",),
    binary_junk: ("no edit blocks", "SEARCH text not found"),
    binary_bytes: ("no edit blocks",),
    huge: ("too long", "SEARCH text not found"),
    marker_soup: ("malformed answer",),
    broken_syntax: ("syntax errors",),
    whitespace_only: ("only whitespace",),
    unsafe_path: ("unsafe path",),
    one_bad_among_good: ("SEARCH text not found",),
}


def test_a_thousand_malformed_answers_are_rejected_with_reasons():
    rng = random.Random(SEED)
    reasons = collections.Counter()
    total = 0
    for round_number in range(100):
        for kind in KINDS:
            if kind is huge and round_number % 10:
                continue  # huge answers are slow to build; ten of them are plenty
            answer = kind(rng)
            result = apply_answer(answer, FILES)
            total += 1
            assert isinstance(result, EditResult)
            assert not result.ok, (kind.__name__, answer[:300])
            assert any(expected in result.reason for expected in KINDS[kind]), (kind.__name__, result.reason)
            assert EditResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
            reasons[kind.__name__] += 1
    assert total >= 1000
    assert set(reasons) == {kind.__name__ for kind in KINDS}


def test_the_good_edits_do_apply():
    # The fuzzed answers above fail because of their faults, not because the base edits are bad.
    result = apply_answer(format_edits(GOOD), FILES)
    assert result.ok, result.reason
    assert result.files == ("app/core.py", "app/util.py")
