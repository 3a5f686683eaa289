"""Files for an environment's site-packages that give the Python we run the observable behaviour of
the older Python a SWE-bench version was recorded on (see compat_shims)."""

from __future__ import annotations

from patchsmith.swebench_runner.env_spec import EnvSpec

# Newer Pythons strip a docstring before taking its first line as a unittest test's description,
# so a docstring that opens with a newline names the test in verbose output. Suites that SWE-bench
# ran on Python 3.6 were recorded under the older rule (django 3.0-3.2's ids); its Python 3.8 logs
# already follow the newer one (django 4.0's ids are such descriptions). Running a 3.6 suite on
# 3.9 or later needs the older rule back.
_OLD_UNITTEST_DESCRIPTIONS = """\
import unittest


def _first_docstring_line(self):
    doc = self._testMethodDoc
    return doc and doc.split("\\n")[0].strip() or None


unittest.TestCase.shortDescription = _first_docstring_line
"""


# Python 3.7 began warning when the ABCs are taken from `collections` instead of
# `collections.abc`; 3.6 served them silently. Real attributes skip the warning __getattr__.
_SILENT_COLLECTIONS_ABCS = """\
import collections
import collections.abc

for _name in collections.abc.__all__:
    setattr(collections, _name, getattr(collections.abc, _name))
"""


# Python 3.8 added posonlyargcount as types.CodeType's second argument. Code written for 3.7 and
# earlier passes 15 arguments; this stand-in takes both forms and is the real type everywhere it
# is compared, hashed (pickle's dispatch tables) or checked with isinstance.
_CODE_TYPE_37_SIGNATURE = """\
import types

_CODE = types.CodeType


class _CodeTypeOfEitherSignature(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _CODE)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, _CODE)

    def __eq__(cls, other):
        return other is _CODE or other is cls

    def __hash__(cls):
        return hash(_CODE)

    def __getattr__(cls, name):
        return getattr(_CODE, name)


class CodeType(metaclass=_CodeTypeOfEitherSignature):
    def __new__(cls, *args, **kwargs):
        if len(args) == 15:  # Python 3.7's order: posonlyargcount goes in second, as 0
            args = (args[0], 0, *args[1:])
        return _CODE(*args, **kwargs)


types.CodeType = CodeType
"""


def compat_shims(spec: EnvSpec) -> dict[str, str]:
    """Files for the venv's site-packages that give the Python we use the wanted Python's observable
    behaviour. A `.pth` line starting with `import` runs at every start-up (a sitecustomize module
    would not: Debian's own comes first on sys.path)."""
    wanted = tuple(int(part) for part in spec.python_wanted.split("."))
    modules = {}
    if spec.parser in ("django", "unittest") and wanted < (3, 8) and tuple(int(p) for p in spec.python.split(".")) >= (3, 8):
        modules["patchsmith_old_unittest_descriptions"] = _OLD_UNITTEST_DESCRIPTIONS
    if spec.silent_collections_abcs:
        modules["patchsmith_silent_collections_abcs"] = _SILENT_COLLECTIONS_ABCS
    if spec.code_type_37_signature:
        modules["patchsmith_code_type_37_signature"] = _CODE_TYPE_37_SIGNATURE
    files = {}
    for name, text in modules.items():
        files[f"{name}.py"] = text
        files[f"{name}.pth"] = f"import {name}\n"
    return files
