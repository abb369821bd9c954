"""Everything the package re-exports resolves, and the lazy import stays lazy."""

import subprocess
import sys

import modelcollapse


def test_every_export_resolves():
    for name in modelcollapse.__all__:
        assert getattr(modelcollapse, name) is not None, name


def test_unknown_attribute_is_an_attribute_error():
    try:
        modelcollapse.not_a_thing  # noqa: B018
    except AttributeError as exc:
        assert "not_a_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_does_not_load_heavy_modules():
    code = "import sys, modelcollapse; print('scipy' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
