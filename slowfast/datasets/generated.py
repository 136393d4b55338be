"""Datasets generated on first use: one folder protocol (lock, temporary folder, marker written last).

The synthetic Kinetics-format set (``synthetic.py``) and the synthetic mini-AVA
(``ava_synthetic.py``) both generate into a folder that several processes (say,
distributed ranks) may ask for at once. :func:`ensure_generated` is that
protocol:

1. a folder whose marker file records the same spec is complete: nothing to do;
2. otherwise, under an advisory file lock (``<folder>/.lock``), check again;
3. a folder without a marker that holds data (``holds_data``) is refused, so a
   real dataset is never overwritten;
4. generate into a temporary ``.tmp-*`` folder inside, remove the old marker,
   move each entry into place, and write the marker last (atomically).

A crash at any point leaves no marker, so a half-written dataset never looks
complete; the next call generates again.
"""

import contextlib
import json
import logging
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"
TMP_PREFIX = ".tmp-"


def read_marker(root: str, marker: str) -> Optional[dict]:
    """The marker's JSON (``{"spec": {...}}``), or None when it is missing or unreadable."""
    try:
        with open(os.path.join(root, marker)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_generated(root: str, marker: str, spec: Dict[str, Any]) -> bool:
    """True when ``root`` holds a finished dataset generated with ``spec`` (a dict)."""
    return (read_marker(root, marker) or {}).get("spec") == spec


@contextlib.contextmanager
def exclusive_lock(path: str) -> Iterator[None]:
    """An advisory inter-process lock (fcntl); released when the holder exits, even by a crash."""
    with open(path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: the renames below are still atomic
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def atomic_write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=TMP_PREFIX)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def ensure_generated(
    out_dir: str,
    *,
    marker: str,
    spec: Dict[str, Any],
    entries: Sequence[str],
    generate: Callable[[str, str], None],
    holds_data: Callable[[str], bool],
    refusal: str,
    force: bool = False,
) -> bool:
    """Generate a dataset into ``out_dir`` unless it is already there (see the module docstring).

    Args:
        out_dir: the dataset folder (absolute).
        marker: name of the marker file inside it.
        spec: what is generated, as a JSON-able dict; recorded in the marker.
        entries: the files and folders ``generate`` creates (moved into place).
        generate: ``generate(work_dir, out_dir)`` writes ``entries`` under
            ``work_dir``; ``out_dir`` is where they will live (for absolute paths
            inside lists).
        holds_data: ``holds_data(out_dir)`` tells whether a folder without a
            marker holds data that is not ours.
        refusal: the error text (after the folder name) when it does.
        force: generate even when the marker matches.

    Returns:
        True if this call generated the data, False if it was already there.

    Raises:
        FileExistsError: the folder holds data but no marker.
    """
    if not force and is_generated(out_dir, marker, spec):
        return False
    os.makedirs(out_dir, exist_ok=True)
    with exclusive_lock(os.path.join(out_dir, LOCK_NAME)):
        if not force and is_generated(out_dir, marker, spec):
            return False
        previous = read_marker(out_dir, marker)
        if previous is None and holds_data(out_dir):
            raise FileExistsError(f"{out_dir} {refusal}")
        if previous is not None:
            logger.info("Regenerating the dataset in %s with new settings", out_dir)
        work = tempfile.mkdtemp(dir=out_dir, prefix=TMP_PREFIX)
        try:
            generate(work, out_dir)
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out_dir, marker))
            for name in entries:
                target = os.path.join(out_dir, name)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target, ignore_errors=True)
                os.replace(os.path.join(work, name), target)
            atomic_write(os.path.join(out_dir, marker), json.dumps({"spec": spec}, indent=1) + "\n")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return True
