"""Check that the installed llama.cpp libraries run on any x86-64-v3 host: no AMX, no AVX-512.

    python deploy/check_portable.py            # exits 1 and names the instructions if any are found

A build with native CPU flags on a host with AMX contains AMX tile instructions (`tileloadd`, `tdpbssd`, …)
that trap with SIGILL on hosts where the hypervisor does not enable them; AVX-512 (`%zmm` registers) is
missing on many x86-64 servers. The libraries are disassembled with objdump (binutils).
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from importlib.util import find_spec
from pathlib import Path

# AMX mnemonics (tileloadd, tilestored, tilezero, tilerelease, ldtilecfg, sttilecfg, tdpb*, tdpfp16ps) and
# any AVX-512 register.
FORBIDDEN = re.compile(r"\s(tile\w+|ldtilecfg|sttilecfg|tdp\w+)\s|%zmm\d+")


def llama_libraries() -> list[Path]:
    spec = find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise SystemExit("llama_cpp is not installed")
    lib = Path(spec.origin).parent / "lib"
    libraries = sorted(lib.glob("*.so*"))
    if not libraries:
        raise SystemExit(f"no shared libraries in {lib}")
    return libraries


def forbidden_instructions(library: Path) -> Counter[str]:
    objdump = shutil.which("objdump")
    if objdump is None:
        raise SystemExit("objdump not found: install binutils")
    listing = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise SystemExit(f"objdump failed on {library}: {listing.stderr[:200]}")
    found: Counter[str] = Counter()
    for match in FORBIDDEN.finditer(listing.stdout):
        found["avx512 (%zmm)" if match.group(0).startswith("%zmm") else f"amx ({match.group(1)})"] += 1
    return found


def main() -> int:
    failures = 0
    for library in llama_libraries():
        found = forbidden_instructions(library)
        if found:
            failures += 1
            print(f"{library.name}: not portable: {dict(found)}", file=sys.stderr)
    if failures:
        print("rebuild with deploy/build_llama.sh (GGML_NATIVE=OFF)", file=sys.stderr)
        return 1
    print(f"llama.cpp is portable (x86-64-v3: no AMX, no AVX-512) in {len(llama_libraries())} libraries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
