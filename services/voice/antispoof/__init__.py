"""Anti-spoofing at run time: the onnxruntime AASIST scorer and input quality checks. The PyTorch
network and its ONNX export are offline tools (tools/antispoof/), not imported here."""
