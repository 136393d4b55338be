"""AVA annotation and detection files: reading, the official row order, writing.

The rows of an AVA ground-truth or detection CSV (``video_id, timestamp, x1,
y1, x2, y2, action_id[, score or person_id]``) become an :class:`AvaBoxes`
table. :func:`read_csv` reproduces the ActivityNet reader
(``get_ava_performance.py``): a class whitelist, at most ``capacity`` rows per
keyframe chosen with its min-heap, rows grouped by keyframe and sorted by
descending score, ties as the heap leaves them. Every row keeps its line
number, so the file order can always be recovered (PySlowFast's evaluation uses
it). Input checks raise a ``ValueError`` naming file and line (or row index for
in-memory data); see :mod:`slowfast.evaluation.ava_metric` for the metric.
"""

from __future__ import annotations

import csv
import heapq
import logging
import os
import tempfile
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

logger = logging.getLogger(__name__)

#: Rows kept per keyframe when the official evaluator reads a detection file.
DEFAULT_DETECTION_CAPACITY = 50

PathLike = Union[str, os.PathLike]
Category = Dict[str, Any]


def make_image_key(video_id: str, timestamp: Union[int, str]) -> str:
    """Returns the official keyframe key ``"%s,%04d"`` (``"vid,0902"``).

    Args:
        video_id: video identifier.
        timestamp: second of the keyframe, as an int or a decimal string
            (``"902"`` and ``"0902"`` give the same key).

    Returns:
        The key string.
    """
    return "%s,%04d" % (video_id, int(timestamp))


# ----------------------------------------------------------------------------
# Rows
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AvaBoxes:
    """Rows of an AVA ground-truth or detection table, one row per (box, action).

    Columns are numpy arrays of equal length ``N``. Boxes are in file order
    ``x1, y1, x2, y2`` (normalised to ``[0, 1]``). ``scores`` holds the
    detection score; for ground truth it holds the 8th column (the person id)
    as a float, or 1.0 when absent, exactly like the official reader (it only
    decides the order of ground-truth boxes, never the metric).

    Instances returned by :func:`read_csv` are in the official order (see
    ``canonical_for``); instances built with :meth:`from_arrays` are treated as
    the rows of a file, in that order.

    Attributes:
        video_ids: ``(N,)`` object array of ``str``.
        timestamps: ``(N,)`` int64.
        boxes: ``(N, 4)`` float64, ``x1, y1, x2, y2``.
        labels: ``(N,)`` int64 action ids.
        scores: ``(N,)`` float64.
        lines: ``(N,)`` int64 line numbers in ``source`` (1-based), or row
            indices (0-based) for in-memory data; used in error messages.
        source: file name, or ``"<memory>"``.
        canonical_for: ``(whitelist, capacity)`` when the rows are already in
            the official order for that whitelist (``None`` = no whitelist,
            else a frozenset) and capacity; ``None`` otherwise.
    """

    video_ids: np.ndarray
    timestamps: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    lines: np.ndarray
    source: str = "<memory>"
    canonical_for: Optional[Tuple[Optional[frozenset], int]] = field(default=None, compare=False)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @classmethod
    def from_arrays(
        cls,
        video_ids: Sequence[str],
        timestamps: Sequence[int],
        boxes: Any,
        labels: Sequence[int],
        scores: Optional[Sequence[float]] = None,
        *,
        source: str = "<memory>",
    ) -> "AvaBoxes":
        """Builds validated rows from arrays (numpy arrays, lists or CPU tensors).

        Args:
            video_ids: ``N`` video ids.
            timestamps: ``N`` integer seconds.
            boxes: ``(N, 4)`` normalised ``x1, y1, x2, y2``.
            labels: ``N`` integer action ids.
            scores: ``N`` scores; ``None`` means 1.0 for every row (ground truth).
            source: name used in error messages.

        Returns:
            The rows, in the given order.

        Raises:
            ValueError: on mismatched lengths, non-integer timestamps or labels,
                or an invalid box or score (the message names the row index).
        """
        vids = np.empty(len(video_ids), dtype=object)
        vids[:] = [str(v) for v in video_ids]
        n = vids.shape[0]
        ts = _as_int_array(timestamps, "timestamps", source)
        labs = _as_int_array(labels, "labels", source)
        bx = np.asarray(boxes, dtype=np.float64)
        if bx.size == 0:
            bx = bx.reshape(0, 4)
        if bx.ndim != 2 or bx.shape[1] != 4:
            raise ValueError(f"{source}: boxes must have shape (N, 4), got {bx.shape}")
        sc = np.ones(n, dtype=np.float64) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        lengths = {"video_ids": n, "timestamps": ts.shape[0], "boxes": bx.shape[0], "labels": labs.shape[0], "scores": sc.shape[0]}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"{source}: columns have different lengths: {lengths}")
        rows = cls(vids, ts, np.ascontiguousarray(bx), labs, sc, np.arange(n, dtype=np.int64), source)
        _validate(rows, in_memory=True)
        return rows

    def image_keys(self) -> List[str]:
        """Returns the official key string of every row."""
        return [make_image_key(v, t) for v, t in zip(self.video_ids.tolist(), self.timestamps.tolist())]

    def to_dicts(self) -> Tuple[Dict[str, list], Dict[str, list], Dict[str, list]]:
        """Returns the official reader's layout: ``(boxes, labels, scores)`` dicts.

        Each dict maps a key string to a list, in row order; boxes are
        ``[y1, x1, y2, x2]`` as in the official code.
        """
        boxes: Dict[str, list] = defaultdict(list)
        labels: Dict[str, list] = defaultdict(list)
        scores: Dict[str, list] = defaultdict(list)
        for key, (x1, y1, x2, y2), lab, sc in zip(
            self.image_keys(), self.boxes.tolist(), self.labels.tolist(), self.scores.tolist()
        ):
            boxes[key].append([y1, x1, y2, x2])
            labels[key].append(lab)
            scores[key].append(sc)
        return dict(boxes), dict(labels), dict(scores)

    def take(self, index: np.ndarray, canonical_for: Optional[Tuple[Optional[frozenset], int]] = None) -> "AvaBoxes":
        """Returns the rows at ``index`` (an integer array), in that order."""
        return AvaBoxes(
            self.video_ids[index],
            self.timestamps[index],
            self.boxes[index],
            self.labels[index],
            self.scores[index],
            self.lines[index],
            self.source,
            canonical_for,
        )


def _as_int_array(values: Any, name: str, source: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    arr = arr.reshape(-1)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source}: row {i}: {name} must be integers, got {arr[i]!r}")
        return arr.astype(np.int64)
    out = np.empty(arr.shape[0], dtype=np.int64)
    for i, v in enumerate(arr.tolist()):
        try:
            out[i] = int(v)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{source}: row {i}: {name} must be integers, got {v!r}") from None
    return out


def _where(rows: AvaBoxes, i: int, in_memory: bool) -> str:
    if in_memory:
        return f"{rows.source}: row {int(rows.lines[i])}"
    return f"{rows.source}:{int(rows.lines[i])}"


def _validate(rows: AvaBoxes, in_memory: bool = False) -> None:
    """Raises ValueError on the first invalid box or score, naming where it is."""
    if len(rows) == 0:
        return
    b = rows.boxes
    finite = np.isfinite(b).all(axis=1)
    checks = [
        (~finite, "box coordinates must be finite"),
        (finite & ((b < 0.0) | (b > 1.0)).any(axis=1), "box coordinates must lie in [0, 1]"),
        (finite & (b[:, 2] < b[:, 0]), "x2 < x1"),
        (finite & (b[:, 3] < b[:, 1]), "y2 < y1"),
        (~np.isfinite(rows.scores), "score must be finite"),
    ]
    for bad, what in checks:
        if bad.any():
            idx = np.flatnonzero(bad)
            i = int(idx[0])
            x1, y1, x2, y2 = b[i].tolist()
            more = f" ({idx.size} rows in all)" if idx.size > 1 else ""
            raise ValueError(
                f"{_where(rows, i, in_memory)}: {what}: x1={x1!r} y1={y1!r} x2={x2!r} y2={y2!r} "
                f"score={float(rows.scores[i])!r}{more}"
            )


# ----------------------------------------------------------------------------
# Reading files
# ----------------------------------------------------------------------------


def read_labelmap(path: PathLike) -> Tuple[List[Category], Set[int]]:
    """Reads an AVA label map (``.pbtxt``) without protocol buffers.

    Understands both official layouts (``item { name: ".." id: N }`` and
    ``label { name: ".." label_id: N }``). As in the official reader, an id is
    paired with the most recent ``name`` before it.

    Args:
        path: label map file.

    Returns:
        ``(categories, class_ids)``: a list of ``{"id": int, "name": str}`` in
        file order, and the set of ids.

    Raises:
        ValueError: on a non-integer or non-positive id, a repeated id, or a
            file without any id.
    """
    categories: List[Category] = []
    ids: Set[int] = set()
    name = ""
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            text = line.strip()
            if text.startswith("name:"):
                value = text[len("name:") :].strip()
                if '"' in value:
                    parts = value.split('"')
                    value = parts[1] if len(parts) > 1 else ""
                elif "'" in value:
                    parts = value.split("'")
                    value = parts[1] if len(parts) > 1 else ""
                name = value
            elif text.startswith("id:") or text.startswith("label_id:"):
                value = text.split(":", 1)[1].strip()
                try:
                    class_id = int(value)
                except ValueError:
                    raise ValueError(f"{path}:{lineno}: class id must be an integer, got {value!r}") from None
                if class_id < 1:
                    raise ValueError(f"{path}:{lineno}: class ids must be >= 1 (1-indexed), got {class_id}")
                if class_id in ids:
                    raise ValueError(f"{path}:{lineno}: class id {class_id} appears twice")
                categories.append({"id": class_id, "name": name})
                ids.add(class_id)
    if not categories:
        raise ValueError(f"{path}: no class ids found (expected 'id: N' or 'label_id: N' lines)")
    return categories, ids


def read_exclusions(path: Optional[PathLike]) -> Set[str]:
    """Reads a CSV of excluded keyframes (``video_id,timestamp`` per line).

    Args:
        path: the file, or ``None``.

    Returns:
        The set of official key strings (``"vid,0902"``); empty for ``None``.

    Raises:
        ValueError: on a row without exactly two columns or a non-integer
            timestamp (naming file and line).
    """
    excluded: Set[str] = set()
    if path is None:
        return excluded
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != 2:
                raise ValueError(f"{path}:{reader.line_num}: expected 2 columns (video_id,timestamp), got {len(row)}")
            try:
                excluded.add(make_image_key(row[0], row[1]))
            except ValueError:
                raise ValueError(f"{path}:{reader.line_num}: timestamp must be an integer, got {row[1]!r}") from None
    return excluded


def _parse_csv_fast(path: PathLike) -> Optional[AvaBoxes]:
    """Parses with pandas' C reader; returns None whenever anything looks off.

    The slow reader then re-reads the file and either accepts it (7-column
    rows, blank lines) or raises an error with the line number. Values read
    here equal Python's ``int``/``float`` of the text (checked for the
    AVA formats), so both readers give the same rows.
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return None
    dtypes = {0: str, 1: np.int64, 2: np.float64, 3: np.float64, 4: np.float64, 5: np.float64, 6: np.int64, 7: np.float64, 8: str}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            df = pd.read_csv(
                path,
                header=None,
                names=list(range(9)),
                dtype=dtypes,
                index_col=False,
                skip_blank_lines=False,
                engine="c",
                encoding="utf-8-sig",
            )
    except pd.errors.EmptyDataError:
        return None
    except Exception:  # any parse problem: let the line-by-line reader report it
        return None
    if len(df) == 0:
        return None
    if df[8].notna().any() or df[list(range(8))].isna().to_numpy().any():
        return None
    vids = df[0].to_numpy(dtype=object)
    rows = AvaBoxes(
        vids,
        df[1].to_numpy(dtype=np.int64),
        np.ascontiguousarray(df[[2, 3, 4, 5]].to_numpy(dtype=np.float64)),
        df[6].to_numpy(dtype=np.int64),
        df[7].to_numpy(dtype=np.float64),
        np.arange(1, len(df) + 1, dtype=np.int64),
        str(path),
    )
    return rows


#: The columns of an AVA box CSV, for error messages.
ROW_LAYOUT = "video_id, timestamp, x1, y1, x2, y2, action_id[, score or person_id]"
#: A parsed row: video id, second, ``[x1, y1, x2, y2]``, action id (-1 for an empty one where allowed),
#: and the 8th column (1.0 when absent or not parsed).
AvaRow = Tuple[str, int, List[float], int, float]


def iter_csv_rows(f: Iterable[str]) -> Iterator[Tuple[int, List[str]]]:
    """``(line number, fields)`` of the non-blank rows of an open CSV file."""
    reader = csv.reader(f)
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        yield reader.line_num, row


def parse_row(
    row: List[str],
    where: str,
    *,
    columns: Tuple[int, ...] = (7, 8),
    allow_empty_action: bool = False,
    parse_score: bool = True,
    error: type = ValueError,
) -> AvaRow:
    """Parses one row of an AVA box CSV: the grammar shared by the evaluator and the AVA dataset.

    Args:
        row: the fields.
        where: ``file:line`` for error messages.
        columns: accepted numbers of fields.
        allow_empty_action: an empty action id gives -1 (detected-box lists of the dataset).
        parse_score: parse the 8th column (score, or person id in ground truth).
        error: the exception class raised (a ``ValueError`` subclass).

    Raises:
        ``error`` naming ``where`` for a wrong column count or a non-numeric field.
    """
    if len(row) not in columns:
        layout = ROW_LAYOUT if 7 in columns else ROW_LAYOUT.replace("[, score or person_id]", ", score")
        raise error(
            f"{where}: expected {' or '.join(map(str, columns))} columns ({layout}), "
            f"got {len(row)}: {','.join(row)[:200]!r}"
        )
    try:
        sec = int(row[1])
    except ValueError:
        raise error(f"{where}: timestamp {row[1]!r} is not an integer") from None
    try:
        box = [float(v) for v in row[2:6]]
    except ValueError:
        raise error(f"{where}: box coordinates must be numbers, got {row[2:6]!r}") from None
    action = row[6].strip()
    try:
        label = -1 if allow_empty_action and action == "" else int(action)
    except ValueError:
        raise error(f"{where}: action id {action!r} is not an integer") from None
    score = 1.0
    if parse_score and len(row) > 7:
        try:
            score = float(row[7])
        except ValueError:
            raise error(f"{where}: score (8th column) {row[7]!r} is not a number") from None
    return row[0], sec, box, label, score


def _parse_csv_slow(path: PathLike) -> AvaBoxes:
    """Line-by-line reader (``parse_row``) with precise error messages."""
    vids: List[str] = []
    ts: List[int] = []
    coords: List[List[float]] = []
    labs: List[int] = []
    scores: List[float] = []
    lines: List[int] = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for line_num, row in iter_csv_rows(f):
            vid, t, box, lab, score = parse_row(row, f"{path}:{line_num}")
            vids.append(vid)
            ts.append(t)
            coords.append(box)
            labs.append(lab)
            scores.append(score)
            lines.append(line_num)
    n = len(vids)
    vid_arr = np.empty(n, dtype=object)
    vid_arr[:] = vids
    try:
        ts_arr = np.array(ts, dtype=np.int64)
    except OverflowError:
        raise ValueError(f"{path}: a timestamp does not fit in 64 bits") from None
    return AvaBoxes(
        vid_arr,
        ts_arr,
        np.array(coords, dtype=np.float64).reshape(n, 4),
        np.array(labs, dtype=np.int64),
        np.array(scores, dtype=np.float64),
        np.array(lines, dtype=np.int64),
        str(path),
    )


def _parse_csv(path: PathLike) -> AvaBoxes:
    """Reads every row of an AVA CSV in file order and validates it."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"AVA CSV not found: {path}")
    rows = _parse_csv_fast(path)
    if rows is None:
        rows = _parse_csv_slow(path)
    _validate(rows)
    return rows


def read_csv(
    path: PathLike,
    class_whitelist: Optional[Iterable[int]] = None,
    capacity: int = 0,
) -> AvaBoxes:
    """Reads an AVA ground-truth or detection CSV like the official reader.

    Rows of actions outside ``class_whitelist`` are dropped, at most
    ``capacity`` rows are kept per keyframe (0 = all; the official evaluator
    uses 50 for detections and 0 for ground truth), and rows are returned
    grouped by keyframe (in order of first appearance) and sorted by
    descending score inside a keyframe, ties as the official heap leaves
    them (among equal scores of *different* actions the order may differ;
    it never matters).

    Args:
        path: CSV with ``video_id, timestamp, x1, y1, x2, y2, action_id`` and
            an optional 8th column (score for detections, person id for
            ground truth).
        class_whitelist: action ids to keep; ``None`` or empty keeps all.
        capacity: maximum rows per keyframe; 0 for no limit.

    Returns:
        The rows (:class:`AvaBoxes`), marked as being in the official order.

    Raises:
        FileNotFoundError: if the file is missing.
        ValueError: on malformed rows (naming file and line).
    """
    rows = _parse_csv(path)
    whitelist = _as_whitelist(class_whitelist)
    return _canonicalize(rows, whitelist, int(capacity))


def _as_whitelist(class_whitelist: Optional[Iterable[int]]) -> Optional[frozenset]:
    if class_whitelist is None:
        return None
    wl = frozenset(int(c) for c in class_whitelist)
    return wl or None  # the official reader treats an empty whitelist as "keep all"


# ----------------------------------------------------------------------------
# Official row order
# ----------------------------------------------------------------------------


def _member(values: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """``np.isin(values, allowed)`` for int64 arrays, fast when ``allowed`` is small."""
    table = np.unique(allowed)
    if table.size == 0:
        return np.zeros(values.shape[0], dtype=bool)
    slot = np.minimum(np.searchsorted(table, values), table.size - 1)
    return table[slot] == values


def _first_appearance_codes(values: np.ndarray) -> np.ndarray:
    """Integer codes 0..K-1 numbered by first appearance."""
    if values.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        import pandas as pd

        codes, _ = pd.factorize(values, sort=False)
        return np.asarray(codes, dtype=np.int64)
    except ImportError:  # pragma: no cover - pandas is a dependency
        _, first, inv = np.unique(values, return_index=True, return_inverse=True)
        rank = np.empty(first.shape[0], dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
        return rank[inv.reshape(-1)]


def _keyframe_codes(video_ids: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Codes of ``(video_id, timestamp)`` pairs, numbered by first appearance."""
    n = video_ids.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    vcodes = _first_appearance_codes(video_ids)
    tmin, tmax = int(timestamps.min()), int(timestamps.max())
    span = tmax - tmin + 1
    if (int(vcodes.max()) + 1) * span < 2**62:
        combined = vcodes * np.int64(span) + (timestamps - np.int64(tmin))
        return _first_appearance_codes(combined)
    pairs = np.stack([vcodes, timestamps], axis=1)
    _, first, inv = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    return rank[inv.reshape(-1)]


def _dense_rank(values: np.ndarray) -> Tuple[np.ndarray, int]:
    """Rank of each value among the distinct values (0 = smallest), and their count."""
    values = values + 0.0  # -0.0 -> 0.0: equal values must share a rank
    try:
        import pandas as pd

        codes, uniques = pd.factorize(values, sort=False)
        uniques = np.asarray(uniques, dtype=np.float64)
        rank_of = np.empty(uniques.shape[0], dtype=np.int64)
        rank_of[np.argsort(uniques)] = np.arange(uniques.shape[0], dtype=np.int64)
        return rank_of[np.asarray(codes)], int(uniques.shape[0])
    except ImportError:  # pragma: no cover - pandas is a dependency
        distinct = np.unique(values)
        return np.searchsorted(distinct, values).astype(np.int64), int(distinct.shape[0])


def _replay_reader(idx: Sequence[int], rows: AvaBoxes, capacity: int) -> List[int]:
    """Replays the official per-keyframe heap on rows ``idx`` (file order).

    Returns the kept row indices in the official order (descending score, ties
    in heap array order). Rows with identical tuples are interchangeable.
    """
    scores = rows.scores[idx].tolist()
    labels = rows.labels[idx].tolist()
    boxes = rows.boxes[idx].tolist()
    heap: List[tuple] = []
    by_tuple: Dict[tuple, List[int]] = defaultdict(list)
    for row, score, label, (x1, y1, x2, y2) in zip(idx, scores, labels, boxes):
        item = (score, label, y1, x1, y2, x2)
        by_tuple[item].append(int(row))
        if capacity < 1 or len(heap) < capacity:
            heapq.heappush(heap, item)
        elif score > heap[0][0]:
            heapq.heapreplace(heap, item)
    ordered = sorted(heap, key=lambda t: -t[0])
    taken: Dict[tuple, int] = defaultdict(int)
    out = []
    for item in ordered:
        out.append(by_tuple[item][taken[item]])
        taken[item] += 1
    return out


def _official_order(
    rows: AvaBoxes,
    keys: np.ndarray,
    capacity: int,
    tie_matters: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Indices of the rows the official reader keeps, in its order.

    Args:
        rows: rows in file order.
        keys: keyframe code of each row, numbered by first appearance.
        capacity: rows kept per keyframe (0 = all).
        tie_matters: optional per-row flags; a tie between rows of the same
            keyframe, action and score is replayed only when one of them is
            flagged (the evaluator flags rows whose keyframe has ground truth
            of that action; ties elsewhere cannot change the metric).

    Returns:
        Row indices grouped by keyframe code (ascending), official order inside.
    """
    n = len(rows)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    scores = rows.scores
    pos = np.arange(n, dtype=np.int64)
    # Dense rank of each score (0 = lowest); equal scores share a rank.
    score_rank, num_scores = _dense_rank(scores)
    num_keys = int(keys.max()) + 1
    # Sort by (keyframe, descending score, file position) through one int64 key.
    if num_keys * num_scores * n < 2**62:
        order = np.argsort((keys * num_scores + (num_scores - 1 - score_rank)) * n + pos)
    else:  # pragma: no cover - astronomically many rows
        order = np.lexsort((pos, -score_rank, keys))
    ks = keys[order]
    ss = score_rank[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    counts = np.diff(np.r_[starts, n])
    replay = np.zeros(num_keys, dtype=bool)
    if capacity > 0:
        rank = pos - np.repeat(starts, counts)
        keep = rank < capacity
        over = np.flatnonzero(counts > capacity)
        if over.size:
            cut = ss[starts[over] + capacity - 1]
            nxt = ss[starts[over] + capacity]
            ambiguous = over[nxt == cut]
            replay[ks[starts[ambiguous]]] = True
        kept = order[keep]
    else:
        kept = order
    # Ties inside one (keyframe, action): their order is the heap's. Replay a
    # keyframe when two of its rows share action and score (and, if given,
    # tie_matters says that (keyframe, action) can affect the metric).
    cand = kept if tie_matters is None else kept[tie_matters[kept]]
    if cand.size > 1:
        labels = rows.labels[cand]
        lab_codes = labels - labels.min()
        stride = int(lab_codes.max()) + 1
        if num_keys * stride * num_scores < 2**62:
            tie_key = np.sort((keys[cand] * stride + lab_codes) * num_scores + score_rank[cand])
            dup = tie_key[1:][tie_key[1:] == tie_key[:-1]]
            replay[dup // (stride * num_scores)] = True
        else:  # pragma: no cover
            kk, ll, sc = keys[cand], lab_codes, score_rank[cand]
            o2 = np.lexsort((sc, ll, kk))
            same = (kk[o2][1:] == kk[o2][:-1]) & (ll[o2][1:] == ll[o2][:-1]) & (sc[o2][1:] == sc[o2][:-1])
            replay[kk[o2][1:][same]] = True
    if not replay.any():
        return kept
    plain = kept[~replay[keys[kept]]]
    redo = np.flatnonzero(replay[keys])  # every row of those keyframes, file order
    redo = redo[np.argsort(keys[redo], kind="stable")]
    rk = keys[redo]
    bounds = np.flatnonzero(np.r_[True, rk[1:] != rk[:-1], True])
    replayed: List[int] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        replayed.extend(_replay_reader(redo[a:b], rows, capacity))
    allidx = np.concatenate([plain, np.asarray(replayed, dtype=np.int64)])
    return allidx[np.argsort(keys[allidx], kind="stable")]


def _canonicalize(rows: AvaBoxes, whitelist: Optional[frozenset], capacity: int) -> AvaBoxes:
    """Applies whitelist, capacity and official order to rows given in file order."""
    if rows.canonical_for == (whitelist, capacity):
        return rows
    sub = rows
    if whitelist is not None:
        mask = _member(rows.labels, np.fromiter(whitelist, dtype=np.int64))
        if not mask.all():
            sub = rows.take(np.flatnonzero(mask))
    keys = _keyframe_codes(sub.video_ids, sub.timestamps)
    idx = _official_order(sub, keys, capacity)
    return sub.take(idx, canonical_for=(whitelist, capacity))




# ----------------------------------------------------------------------------
# Model outputs, writing
# ----------------------------------------------------------------------------


def detections_from_predictions(
    video_ids: Sequence[str],
    timestamps: Sequence[int],
    boxes: Any,
    scores: Any,
    class_ids: Optional[Sequence[int]] = None,
) -> AvaBoxes:
    """Expands per-box class scores into AVA detection rows.

    One row per (box, class), box-major, as PySlowFast's test loop produces
    them.

    Args:
        video_ids: ``N`` video ids, one per box.
        timestamps: ``N`` keyframe seconds.
        boxes: ``(N, 4)`` normalised ``x1, y1, x2, y2`` (numpy or CPU tensor).
        scores: ``(N, C)`` class scores.
        class_ids: the action id of each score column; default ``1..C``.

    Returns:
        ``N * C`` validated rows.
    """
    sc = np.asarray(scores, dtype=np.float64)
    if sc.ndim != 2:
        raise ValueError(f"scores must have shape (N, C), got {sc.shape}")
    n, c = sc.shape
    ids = np.arange(1, c + 1, dtype=np.int64) if class_ids is None else np.asarray(class_ids, dtype=np.int64).reshape(-1)
    if ids.shape[0] != c:
        raise ValueError(f"{ids.shape[0]} class ids for {c} score columns")
    bx = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if n else np.zeros((0, 4))
    if bx.shape[0] != n:
        raise ValueError(f"{bx.shape[0]} boxes for {n} score rows")
    # Validate once per box, then expand to one row per (box, class).
    per_box = AvaBoxes.from_arrays(video_ids, timestamps, bx, np.zeros(n, dtype=np.int64), source="<predictions>")
    bad = ~np.isfinite(sc)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"<predictions>: row {i}: score of class column {j} is not finite: {sc[i, j]!r}")
    return AvaBoxes(
        np.repeat(per_box.video_ids, c),
        np.repeat(per_box.timestamps, c),
        np.repeat(per_box.boxes, c, axis=0),
        np.tile(ids, n),
        np.ascontiguousarray(sc.reshape(-1)),
        np.repeat(per_box.lines, c),
        "<predictions>",
    )



def write_detections_csv(path: PathLike, rows: Union[AvaBoxes, Iterable[Sequence[Any]]]) -> int:
    """Writes detections in the official format, atomically.

    Each line is ``video_id,%04d timestamp,x1,y1,x2,y2,action_id,score`` with
    boxes as ``%.3f`` and scores as ``%.4f`` (PySlowFast's format). Note the
    rounding: a box narrower than 0.0005 may become zero-width, and such
    detections are then ignored by the evaluator.

    Args:
        path: output file (written to a temporary file, then renamed).
        rows: :class:`AvaBoxes`, or tuples ``(video_id, timestamp, x1, y1, x2,
            y2, action_id, score)``.

    Returns:
        The number of rows written.
    """
    if isinstance(rows, AvaBoxes):
        it: Iterable[Sequence[Any]] = zip(
            rows.video_ids.tolist(),
            rows.timestamps.tolist(),
            *rows.boxes.T.tolist(),
            rows.labels.tolist(),
            rows.scores.tolist(),
        )
    else:
        it = rows
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            chunk: List[str] = []
            for vid, ts, x1, y1, x2, y2, lab, score in it:
                chunk.append("%s,%04d,%.3f,%.3f,%.3f,%.3f,%d,%.4f\n" % (vid, int(ts), x1, y1, x2, y2, int(lab), score))
                if len(chunk) >= 65536:
                    f.write("".join(chunk))
                    count += len(chunk)
                    chunk = []
            f.write("".join(chunk))
            count += len(chunk)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return count

