"""AASIST in PyTorch and its export to the ONNX file the voice service serves (`make antispoof-model`)."""
