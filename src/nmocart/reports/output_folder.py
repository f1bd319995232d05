"""``--out DIR`` written atomically: all or nothing.

Every command that writes a folder (``screen --out``, ``safety report --out``, ``kinetics nca
--out``, ``demo --out``) writes into a temporary folder beside the target
(``.NAME.XXXX.partial``, same file system) and moves the result into place only when
everything was written. A failure (a bug, a full disk, Ctrl-C) removes the temporary folder and
any parent folders created for it, so no partial output is left behind.

When the target does not exist the temporary folder is renamed to it (one atomic rename). When
it exists (a re-run, or a folder holding other files) the temporary folder is made inside it and,
once complete, each written file replaces its namesake by an atomic rename; files nmocart did
not write there are left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class OutputFolderError(Exception):
    """The ``--out`` folder cannot be used; the message names it, says why and gives the fix."""


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _missing_ancestors(target: Path) -> list[Path]:
    """The folders that must be created to hold ``target``'s parent, outermost first."""
    missing: list[Path] = []
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return list(reversed(missing))


def check_target(target: Path) -> None:
    """Raise :class:`OutputFolderError` when ``target`` exists but is not a folder."""
    if target.exists() and not target.is_dir():
        raise OutputFolderError(f"--out {target}: is a file, not a folder; give a folder path")
    for folder in (target, *target.parents):
        if folder.exists():
            if not folder.is_dir():
                raise OutputFolderError(
                    f"--out {target}: {folder} is a file, so the folder cannot be created; "
                    "give another folder path"
                )
            break


def _move_into(source: Path, target: Path) -> None:
    """Move every entry of ``source`` into the existing folder ``target`` (file by file)."""
    for entry in sorted(source.iterdir()):
        destination = target / entry.name
        if entry.is_dir() and destination.is_dir():
            _move_into(entry, destination)
            entry.rmdir()
        else:
            if destination.is_dir():
                shutil.rmtree(destination)
            os.replace(entry, destination)


@contextlib.contextmanager
def output_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder to write into; on success its content becomes ``target``.

    Raises :class:`OutputFolderError` (before anything is computed or written) when the target
    is a file or its folder cannot be created or written. An exception inside the block removes
    every trace of the attempt and propagates.
    """
    check_target(target)
    exists = target.is_dir()
    created = [] if exists else _missing_ancestors(target)
    try:
        if exists:  # staged inside it, so only the target itself needs to be writable
            staging = Path(tempfile.mkdtemp(prefix=".nmocart.", suffix=".partial", dir=target))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as exc:
        _remove_empty(created)
        raise OutputFolderError(
            f"--out {target}: cannot write there ({_reason(exc)}); choose a writable folder"
        ) from None
    try:
        yield staging
        try:
            if exists:
                _move_into(staging, target)
                staging.rmdir()
            else:
                os.replace(staging, target)
        except OSError as exc:
            raise OutputFolderError(
                f"--out {target}: cannot move the outputs into place ({_reason(exc)}); "
                "choose a writable folder"
            ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders created for the output (innermost first) if they are still empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def final_paths(written: list[Path], staging: Path, target: Path) -> list[Path]:
    """The paths the written files have once moved from ``staging`` into ``target``."""
    return [target / path.relative_to(staging) for path in written]
