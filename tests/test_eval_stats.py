import pytest

from sparkles_lite.eval.stats import mean_ci, wilson_ci


def test_wilson_known_value():
    low, high = wilson_ci(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)


def test_wilson_edges_stay_in_unit_interval():
    assert wilson_ci(0, 5)[0] == 0.0 and wilson_ci(0, 5)[1] > 0
    assert wilson_ci(5, 5)[1] == 1.0 and wilson_ci(5, 5)[0] < 1
    with pytest.raises(ValueError):
        wilson_ci(1, 0)
    with pytest.raises(ValueError):
        wilson_ci(3, 2)


def test_mean_ci():
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and lo == pytest.approx(2 - 4.303 / 3 ** 0.5, abs=1e-3) and hi == pytest.approx(4 - lo)
    assert mean_ci([7.0]) == (7.0, 7.0, 7.0)
    with pytest.raises(ValueError):
        mean_ci([])
