"""Writes the secrets docker compose needs into deploy/.env, each only if the file does not set it yet:

    make deploy-secrets      # or: python3 deploy/env_secrets.py [path/to/.env]

ADMIN_API_KEY (the catalog stores it as user `admin`, scope admin: make the other keys with it), SERVICE_TOKEN
(the fleet's services trust each other's calls with it) and POSTGRES_PASSWORD. Values are random (Python's
`secrets`); an existing value is never changed, so running it again is harmless. Standard library only."""

import secrets
import sys
from pathlib import Path

DEFAULT_ENV = Path(__file__).resolve().parent / ".env"


def admin_key() -> str:
    """A key of the form the catalog accepts: vf_<12 hex>_<43 url-safe characters> (256 random bits)."""
    return f"vf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


GENERATED = {
    "ADMIN_API_KEY": admin_key,
    "SERVICE_TOKEN": lambda: secrets.token_urlsafe(32),
    "POSTGRES_PASSWORD": lambda: secrets.token_urlsafe(24),
}


def assigned(line: str) -> tuple[str, str] | None:
    """(name, value) of a `NAME=value` line, None for comments and anything else."""
    name, sep, value = line.strip().partition("=")
    name = name.strip().removeprefix("export ")
    return (name, value.strip()) if sep and name and not name.startswith("#") else None


def write_secrets(env_file: Path) -> list[str]:
    """Fill in what is missing (an empty `NAME=` line in place, else a line at the end); returns the names
    written."""
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    given = {a[0] for a in map(assigned, lines) if a and a[1]}
    missing = [name for name in GENERATED if name not in given]
    values = {name: GENERATED[name]() for name in missing}
    for i, line in enumerate(lines):
        entry = assigned(line)
        if entry and entry[0] in values and not entry[1]:
            lines[i] = f"{entry[0]}={values.pop(entry[0])}"
    if values:
        lines += ["# written by deploy/env_secrets.py", *(f"{name}={value}" for name, value in values.items())]
    if missing:
        env_file.write_text("\n".join(lines) + "\n")
        env_file.chmod(0o600)
    return missing


def main() -> None:
    env_file = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ENV
    written = write_secrets(env_file)
    kept = [name for name in GENERATED if name not in written]
    print(f"{env_file}: wrote {', '.join(written) or 'nothing'}; kept {', '.join(kept) or 'nothing'}")
    if "ADMIN_API_KEY" in written:
        print("the admin key is ADMIN_API_KEY in that file: make users' keys with it (docs/SECURITY.md)")


if __name__ == "__main__":
    main()
