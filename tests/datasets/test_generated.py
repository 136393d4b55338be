"""The generated-dataset folder protocol (slowfast/datasets/generated.py)."""

import os

import pytest

from slowfast.datasets.generated import TMP_PREFIX, ensure_generated, is_generated


def _ensure(root, spec, calls, fail=False, force=False):
    def generate(work, final):
        calls.append(final)
        os.makedirs(os.path.join(work, "data"))
        with open(os.path.join(work, "data", "x.txt"), "w") as f:
            f.write(str(spec["n"]))
        with open(os.path.join(work, "list.csv"), "w") as f:
            f.write(os.path.join(final, "data", "x.txt") + "\n")
        if fail:
            raise RuntimeError("generator crashed")

    return ensure_generated(
        str(root), marker="gen.json", spec=spec, entries=["data", "list.csv"], generate=generate,
        holds_data=lambda r: os.path.exists(os.path.join(r, "list.csv")), refusal="is someone else's", force=force,
    )


def test_generates_once_and_again_for_a_new_spec(tmp_path):
    calls = []
    assert _ensure(tmp_path, {"n": 1}, calls) and calls == [str(tmp_path)]
    assert not _ensure(tmp_path, {"n": 1}, calls) and len(calls) == 1
    assert is_generated(str(tmp_path), "gen.json", {"n": 1})
    assert _ensure(tmp_path, {"n": 2}, calls) and len(calls) == 2
    assert (tmp_path / "data" / "x.txt").read_text() == "2"
    assert _ensure(tmp_path, {"n": 2}, calls, force=True) and len(calls) == 3
    assert not [n for n in os.listdir(tmp_path) if n.startswith(TMP_PREFIX)]


def test_a_crash_leaves_no_marker_and_the_next_call_generates(tmp_path):
    calls = []
    with pytest.raises(RuntimeError, match="crashed"):
        _ensure(tmp_path, {"n": 1}, calls, fail=True)
    assert not (tmp_path / "gen.json").exists() and not (tmp_path / "list.csv").exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(TMP_PREFIX)]
    assert _ensure(tmp_path, {"n": 1}, calls) and is_generated(str(tmp_path), "gen.json", {"n": 1})


def test_data_without_a_marker_is_refused(tmp_path):
    (tmp_path / "list.csv").write_text("real data\n")
    with pytest.raises(FileExistsError, match="is someone else's"):
        _ensure(tmp_path, {"n": 1}, [])
    assert (tmp_path / "list.csv").read_text() == "real data\n"
