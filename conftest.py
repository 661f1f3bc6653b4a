"""Collection settings for the doctests of the package (``testpaths`` holds skvae)."""

# skvae.onnx needs the onnx extra; without it its doctests are not collected (the
# tests of tests/test_onnx.py skip themselves).
try:
    import onnxruntime  # noqa: F401
    import skl2onnx  # noqa: F401
except ImportError:
    collect_ignore = ["skvae/onnx.py"]
