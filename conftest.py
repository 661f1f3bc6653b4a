"""Collection settings for the doctests of the package (``testpaths`` holds skvae)."""

import importlib.util

# skvae.onnx needs the onnx extra; without it its doctests are not collected (the
# tests of tests/test_onnx.py skip themselves).
collect_ignore = (
    []
    if all(
        importlib.util.find_spec(name) for name in ("skl2onnx", "onnx", "onnxruntime")
    )
    else ["skvae/onnx.py"]
)
