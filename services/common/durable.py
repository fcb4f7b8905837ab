"""Files that survive a crash, and the start-up check of a directory against the rows that name its files.

A file is written under a temporary name in its own directory (unique to the writer, so two writers never
share one), flushed and fsynced, renamed over its final name, and the directory fsynced: after a crash its
name holds the whole old file, the whole new one, or nothing, never part of one. A service writes the file
before the row that names it commits and removes it when the commit fails; it deletes a row (committed)
before its file. A crash between the two steps therefore leaves at worst a file without a row, which
`reconcile` removes at the next start, once it is older than `min_age_s`: a younger one may belong to a
write on another replica sharing the directory whose row has not committed yet. A row whose file is missing
is never deleted here: it is returned, for the service to log and report."""

import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

PARTIAL = ".partial"
ORPHAN_MIN_AGE_S = 600.0  # far longer than a write and its commit take; see the module's docstring


def fsync_directory(directory: Path) -> None:
    """Make the directory's entries (a rename, a removal) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` as `path`, atomically and durably (see the module's docstring)."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{PARTIAL}")
    try:
        with partial.open("xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def remove_durably(path: Path) -> None:
    """Remove `path` if it exists, durably."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_directory(path.parent)


@dataclass
class Reconciled:
    """What `reconcile` found in one directory."""

    removed: list[str] = field(default_factory=list)  # files no row names (and abandoned partial writes)
    kept_young: list[str] = field(default_factory=list)  # the same, too young to remove yet
    missing: list[str] = field(default_factory=list)  # names rows hold whose file is not there


def reconcile(directory: Path, named: Iterable[str], suffix: str, min_age_s: float = ORPHAN_MIN_AGE_S) -> Reconciled:
    """Remove the files ending in `suffix` in `directory` that no row names (`named`: the rows' file names,
    read before this is called) and abandoned partial writes, when older than `min_age_s`; report the names
    whose file is missing. Logs what it removed and what is missing."""
    named = set(named)
    found = Reconciled()
    directory.mkdir(parents=True, exist_ok=True)
    present = set()
    cutoff = time.time() - min_age_s
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        present.add(path.name)
        if path.name in named or not (path.name.endswith(suffix) or path.name.endswith(PARTIAL)):
            continue
        try:
            young = path.stat().st_mtime >= cutoff
        except FileNotFoundError:  # renamed or removed meanwhile, by a writer on another replica
            continue
        if young:
            found.kept_young.append(path.name)
            continue
        path.unlink(missing_ok=True)
        found.removed.append(path.name)
    if found.removed:
        fsync_directory(directory)
        logger.warning("removed %d files no row names from %s: %s", len(found.removed), directory, found.removed)
    if found.kept_young:
        logger.info(
            "kept %d files no row names yet (younger than %.0f s): %s",
            len(found.kept_young),
            min_age_s,
            found.kept_young,
        )
    found.missing = sorted(named - present)
    if found.missing:
        logger.error("%d rows name files missing from %s (rows kept): %s", len(found.missing), directory, found.missing)
    return found
