"""Which reduction combines the test views of a video: the one accessor for the ensemble-method keys."""

from fvcore.common.config import CfgNode

ENSEMBLE_METHODS = ("sum", "max")


def ensemble_method_of(cfg: CfgNode) -> str:
    """DATA.ENSEMBLE_METHOD (PySlowFast's key) when set away from "sum", else TEST.ENSEMBLE_METHOD.

    Both keys exist; setting them to two different non-default values is an error.
    """
    data = cfg.DATA.get("ENSEMBLE_METHOD", "sum")
    test = cfg.TEST.get("ENSEMBLE_METHOD", "sum")
    for key, value in (("DATA.ENSEMBLE_METHOD", data), ("TEST.ENSEMBLE_METHOD", test)):
        if value not in ENSEMBLE_METHODS:
            raise ValueError(f"{key} must be one of {ENSEMBLE_METHODS}, got '{value}'")
    if data != "sum" and test != "sum" and data != test:
        raise ValueError(f"DATA.ENSEMBLE_METHOD '{data}' and TEST.ENSEMBLE_METHOD '{test}' disagree; set one")
    return data if data != "sum" else test
