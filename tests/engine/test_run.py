"""run_net's plan: which launches the --cfg files and their jobs become."""

import functools

import pytest

from slowfast.engine import launch, run


@pytest.fixture
def launches(monkeypatch):
    calls = []

    def fake_launch_job(cfg, init_method, func):
        assert isinstance(func, functools.partial) and func.func is run.run_planned_jobs
        calls.append((cfg, init_method, [(c.OUTPUT_DIR, [j.__name__ for j in jobs]) for c, jobs in func.args[0]]))

    monkeypatch.setattr(launch, "launch_job", fake_launch_job)
    return calls


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_train_and_test_of_one_config_share_one_launch(tmp_path, launches):
    rc = run.main(["--init_method", "tcp://127.0.0.1:1234",
                   "NUM_GPUS", "0", "NUM_CPU_PROCESSES", "2", "OUTPUT_DIR", str(tmp_path)])
    assert rc == 0
    assert len(launches) == 1
    cfg, init, plan = launches[0]
    assert init == "tcp://127.0.0.1:1234" and cfg.NUM_CPU_PROCESSES == 2
    assert plan == [(str(tmp_path), ["train", "test"])]


def test_configs_with_the_same_layout_share_one_launch(tmp_path, launches):
    a = _write(tmp_path / "a.yaml", "OUTPUT_DIR: /out/a\nTEST:\n  ENABLE: False\n")
    b = _write(tmp_path / "b.yaml", "OUTPUT_DIR: /out/b\nTRAIN:\n  ENABLE: False\n")
    assert run.main(["--cfg", a, "--cfg", b, "NUM_GPUS", "0", "NUM_CPU_PROCESSES", "2"]) == 0
    assert [plan for _, _, plan in launches] == [[("/out/a", ["train"]), ("/out/b", ["test"])]]


def test_configs_with_different_layouts_launch_separately_on_fresh_ports(tmp_path, launches):
    a = _write(tmp_path / "a.yaml", "OUTPUT_DIR: /out/a\nNUM_CPU_PROCESSES: 2\n")
    b = _write(tmp_path / "b.yaml", "OUTPUT_DIR: /out/b\nNUM_CPU_PROCESSES: 1\n")
    assert run.main(["--cfg", a, "--cfg", b, "NUM_GPUS", "0"]) == 0
    assert [(c.NUM_CPU_PROCESSES, plan) for c, _, plan in launches] == [
        (2, [("/out/a", ["train", "test"])]),
        (1, [("/out/b", ["train", "test"])]),
    ]


def test_two_multi_process_layouts_on_one_address_are_refused_before_running(tmp_path, launches, capsys):
    a = _write(tmp_path / "a.yaml", "NUM_CPU_PROCESSES: 2\n")
    b = _write(tmp_path / "b.yaml", "NUM_CPU_PROCESSES: 4\nTRAIN:\n  BATCH_SIZE: 8\nTEST:\n  BATCH_SIZE: 8\n")
    rc = run.main(["--cfg", a, "--cfg", b, "--init_method", "tcp://127.0.0.1:1234", "NUM_GPUS", "0"])
    assert rc == 2 and launches == []
    err = capsys.readouterr().err
    assert "tcp://127.0.0.1:1234" in err and "separate commands" in err


def test_run_planned_jobs_runs_each_config_with_its_jobs_in_order():
    seen = []
    plan = [("cfg_a", [lambda c: seen.append(("train", c)), lambda c: seen.append(("test", c))]),
            ("cfg_b", [lambda c: seen.append(("test", c))])]
    run.run_planned_jobs(plan, "launch_cfg")
    assert seen == [("train", "cfg_a"), ("test", "cfg_a"), ("test", "cfg_b")]
