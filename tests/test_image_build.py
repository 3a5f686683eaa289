"""The one image builder (sandbox/image_build.py) with the real engine."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker


def test_a_build_only_variable_reaches_the_build_and_stays_out_of_the_image(bookworm_base_image, tmp_path: Path):
    from patchsmith.sandbox import Container, ImageBuild, build_image, engine

    tag = f"patchsmith-test-ray20b:build-only-{uuid.uuid4().hex[:8]}"

    def fill(container) -> dict[str, str]:
        container.check("mkdir -p /opt && echo \"$BUILD_SECRET $KEPT\" > /opt/seen", "recording the variables")
        return {}

    try:
        how = build_image(ImageBuild(tag, bookworm_base_image, "the test image", env={"KEPT": "k", "BUILD_SECRET": "s"},
                                     build_only=("BUILD_SECRET",), network=False, ca_bundle=None, lock_dir=tmp_path), fill)
        assert how == "built"
        env = engine.client().api.inspect_image(tag)["Config"]["Env"]
        assert "KEPT=k" in env
        assert not [item for item in env if item.startswith("BUILD_SECRET=")], env
        with Container(tag) as container:
            assert container.exec("cat /opt/seen").output.strip() == "s k"  # the build saw both
            assert container.exec("echo \"[$BUILD_SECRET]\"").output.strip() == "[]"
    finally:
        engine.client().api.remove_image(tag, force=True)
