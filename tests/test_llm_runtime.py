"""The default LLM's runtime is portable: the installed llama.cpp libraries hold no AMX and no AVX-512
instructions (deploy/check_portable.py), and that check does find them in a library that has them."""

import shutil
import subprocess
import sys

import pytest

from deploy.check_portable import forbidden_instructions, llama_libraries
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")


@pytest.mark.slow  # disassembles the installed build (about 6 s): a check of the install, not of the code
def test_installed_llama_cpp_has_no_amx_or_avx512() -> None:
    libraries = llama_libraries()
    assert any(lib.name.startswith("libggml-cpu") for lib in libraries), libraries
    # The command disassembles every library (objdump) and names any that is not portable.
    result = subprocess.run([sys.executable, "deploy/check_portable.py"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"portable (x86-64-v3: no AMX, no AVX-512) in {len(libraries)} libraries" in result.stdout


def test_the_check_finds_amx_and_avx512(tmp_path) -> None:
    source = tmp_path / "native.c"
    source.write_text(
        "#include <immintrin.h>\n"
        "void release(void) { _tile_release(); }\n"
        "void add(float *out, const float *a) { _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(a), "
        "_mm512_loadu_ps(out))); }\n"
        "void load(const void *p) { _tile_loadd(0, p, 64); }\n"
    )
    library = tmp_path / "libnative.so"
    compiler = shutil.which("cc") or pytest.skip("no C compiler")
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-mamx-tile", "-mavx512f", str(source), "-o", str(library)], check=True
    )
    found = forbidden_instructions(library)
    assert found["amx (tilerelease)"] == 1 and found["amx (tileloadd)"] == 1, found
    assert found["avx512 (%zmm)"] >= 1, found
