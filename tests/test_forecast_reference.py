"""Today's forecasts against the saved ones (``tests/forecast_reference.py``): the forecast wing's
restructuring changed no number.

On the CPU that wrote the file (``cpu_key``), equality is bitwise. Elsewhere the compiled kernels
round differently (another vector width sums in another order) and training carries those
differences into the weights; the comparison there is to the table's ``FORECAST_REFERENCE``
bounds, with the choice of candidates still exact.
"""

from __future__ import annotations

import numpy as np
import pytest
from forecast_reference import CASES, PATH, SAVED, _flat, checkpoint_path, cpu_key, predict_kwargs, run
from tolerances import FORECAST_REFERENCE_FLOAT32, FORECAST_REFERENCE_FLOAT64

from fastlstm.forecast import Forecaster

SAVED_ARRAYS = np.load(PATH)
SAME_CPU = str(SAVED_ARRAYS["cpu_key"]) == cpu_key()


def _expected(name: str) -> dict[str, np.ndarray]:
    prefix = f"{name}/"  # (``ckpt/{name}/point``: the saved checkpoints' own forecasts)
    return {k[len(prefix) :]: SAVED_ARRAYS[k] for k in SAVED_ARRAYS.files if k.startswith(prefix)}


def _compare(name: str, got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want), name
    rtol = FORECAST_REFERENCE_FLOAT32 if "float32" in name else FORECAST_REFERENCE_FLOAT64
    for key, w in want.items():
        g = np.asarray(got[key])
        assert g.shape == w.shape, (name, key)
        if key in ("mix", "calibration") or SAME_CPU:
            np.testing.assert_array_equal(g, w, err_msg=f"{name}/{key}")
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=0, err_msg=f"{name}/{key}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_forecasts_equal_the_saved_ones(name):
    _compare(name, run(name), _expected(name))


@pytest.mark.parametrize("name", SAVED)
def test_checkpoints_written_before_still_load_and_predict_the_same(name):
    f = Forecaster.load(checkpoint_path(name))
    got = {"point": _flat(f.predict(**predict_kwargs(name)))}
    _compare(name, got, {"point": SAVED_ARRAYS[f"ckpt/{name}/point"]})
