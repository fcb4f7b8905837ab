"""Anti-spoofing: the AASIST network, its ONNX export and the onnxruntime scorer."""
