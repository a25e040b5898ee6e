"""Tests of mcfoot.dea: the numba simplex against the SciPy/HiGHS twin, DEA properties,
a hand-derived example, and edge cases."""

from __future__ import annotations

from fractions import Fraction as Fr
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcfoot.dea import DEAError, cross_efficiency, efficiency
from mcfoot.dea import reference as ref
from mcfoot.dea.core import _cross_full, _raise_or_nan

TOL = 1e-7
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


# ---- instance generators ------------------------------------------------------------------


def random_instance(seed, n, m, s, spread=1.0):
    """Continuous lognormal data: LP optima are unique with probability one."""
    rng = np.random.default_rng(seed)
    X = rng.lognormal(sigma=spread, size=(n, m)) * 10.0 ** rng.uniform(-3, 3, size=m)
    Y = rng.lognormal(sigma=spread, size=(n, s)) * 10.0 ** rng.uniform(-3, 3, size=s)
    return X, Y


def tied_instance(seed, n, m, s):
    """Study-like degenerate data: a few distinct 'hosts' share whole input columns,
    some units are exact duplicates, some outputs tie."""
    rng = np.random.default_rng(seed)
    X, Y = random_instance(seed, n, m, s)
    hosts = rng.integers(0, 3, size=n)
    if m > 1:
        H = rng.uniform(0.2, 6.0, size=(3, m - 1))
        X[:, 1:] = H[hosts]
    Y = np.round(Y / Y.max(axis=0) * 5.0) + 1.0  # few distinct output levels
    dup = rng.integers(0, n, size=max(1, n // 4))
    X[dup[1:]] = X[dup[0]]
    Y[dup[1:]] = Y[dup[0]]
    return X, Y


def study_instance(rng, draws, n=126):
    """Shape and ranges of the study: 5 inputs (energy, PUE, WUE site, WUE source, CIF) of
    which 4 are host properties shared by many units (~6 distinct hosts), 1 output."""
    hosts = rng.integers(0, 6, size=n)
    H = np.stack(
        [rng.uniform(1.1, 1.5, 6), rng.uniform(0.2, 1.2, 6), rng.uniform(1, 6, 6), rng.uniform(0.2, 0.6, 6)], 1
    )
    X = np.empty((draws, n, 5))
    X[..., 0] = np.exp(rng.uniform(np.log(0.05), np.log(50), size=(draws, n)))
    X[..., 1:] = H[hosts]
    Y = rng.uniform(10, 70, size=(n, 1))
    return X, Y


dims = st.tuples(st.integers(2, 8), st.integers(1, 4), st.integers(1, 3))
seeds = st.integers(0, 2**32 - 1)


# ---- hand-derived example -----------------------------------------------------------------

# One input equal to 1 for every unit and two outputs, so the CCR weight polytope is
# P = {w >= 0 : w·y_j <= 1} with vertices (1/4,0), (2/9,1/9), (1/9,2/9), (0,1/4). Derived by
# hand: A, B, C are efficient with a whole
# edge of optimal weights each; D = (2, 1) has theta = 5/9 at the unique vertex (2/9, 1/9).
# The secondary goal is linear along each unit's optimal edge, so it picks an end point
# (v = 1/(n-1), u = w v; objective = w·sum_{j != d} y_j / 3):
#   aggressive:  A -> (1/4, 0), B -> (0, 1/4), C -> (1/9, 2/9), D -> (2/9, 1/9)
#   benevolent:  A -> (2/9, 1/9), B -> (1/9, 2/9), C -> (2/9, 1/9), D -> (2/9, 1/9)
# E[d, k] = w_d·y_k.  (No published numbers used: derived by hand, cross-checked by HiGHS.)
HAND_X = np.ones((4, 1))
HAND_Y = np.array([[4.0, 1.0], [1.0, 4.0], [3.0, 3.0], [2.0, 1.0]])
HAND_THETA = [1, 1, 1, Fr(5, 9)]
HAND_E = {
    "aggressive": [
        [1, Fr(1, 4), Fr(3, 4), Fr(1, 2)],
        [Fr(1, 4), 1, Fr(3, 4), Fr(1, 4)],
        [Fr(2, 3), 1, 1, Fr(4, 9)],
        [1, Fr(2, 3), 1, Fr(5, 9)],
    ],
    "benevolent": [
        [1, Fr(2, 3), 1, Fr(5, 9)],
        [Fr(2, 3), 1, 1, Fr(4, 9)],
        [1, Fr(2, 3), 1, Fr(5, 9)],
        [1, Fr(2, 3), 1, Fr(5, 9)],
    ],
}
HAND_CE = {"aggressive": [Fr(35, 48), Fr(35, 48), Fr(7, 8), Fr(7, 16)], "benevolent": [Fr(11, 12), Fr(3, 4), 1, Fr(19, 36)]}
HAND_OBJ = {"aggressive": [Fr(1, 2), Fr(5, 12), Fr(19, 27), Fr(8, 9)], "benevolent": [Fr(20, 27), Fr(19, 27), Fr(20, 27), Fr(8, 9)]}


def f(a):
    return np.array(a, dtype=float)


def test_hand_example_efficiency():
    for orientation in ("input", "output"):
        np.testing.assert_allclose(efficiency(HAND_X, HAND_Y, orientation), f(HAND_THETA), atol=1e-12)
    np.testing.assert_allclose(ref.efficiency(HAND_X, HAND_Y), f(HAND_THETA), atol=1e-9)


@pytest.mark.parametrize("secondary", ["aggressive", "benevolent"])
def test_hand_example_cross_efficiency(secondary):
    ce, E = cross_efficiency(HAND_X, HAND_Y, secondary, return_matrix=True)
    np.testing.assert_allclose(E, f(HAND_E[secondary]), atol=1e-12)
    np.testing.assert_allclose(ce, f(HAND_CE[secondary]), atol=1e-12)
    Ef = f(HAND_E[secondary])
    np.testing.assert_allclose(
        cross_efficiency(HAND_X, HAND_Y, secondary, include_self=False),
        (Ef.sum(0) - np.diag(Ef)) / 3,
        atol=1e-12,
    )
    theta, _, _, obj, status, _ = _cross_full(HAND_X, HAND_Y, secondary)
    assert (status == 0).all()
    np.testing.assert_allclose(obj[0], f(HAND_OBJ[secondary]), atol=1e-12)
    # and the HiGHS twin agrees with the hand derivation
    ce_r, E_r, obj_r = ref.cross_efficiency(HAND_X, HAND_Y, secondary, return_matrix=True, return_objective=True)
    np.testing.assert_allclose(E_r, Ef, atol=1e-8)
    np.testing.assert_allclose(obj_r, f(HAND_OBJ[secondary]), atol=1e-8)


# A variant of Cooper, Seiford & Tone's 12-hospital data (I and K outpatients differ from
# the book's: 290/262 here, 190/260 there): a HiGHS-parity check on a classic data shape.
# The published-value test is test_textbook_hospital_ccr_scores below.
HOSPITALS = np.array(
    [
        [20, 151, 100, 90], [19, 131, 150, 50], [25, 160, 160, 55], [27, 168, 180, 72],
        [22, 158, 94, 66], [55, 255, 230, 90], [33, 235, 220, 88], [31, 206, 152, 80],
        [30, 244, 290, 100], [50, 268, 250, 100], [53, 306, 262, 147], [38, 284, 250, 120],
    ],
    dtype=float,
)  # fmt: skip


def test_hospital_parity():
    X, Y = HOSPITALS[:, :2], HOSPITALS[:, 2:]
    for o in ("input", "output"):
        for r in ("crs", "vrs"):
            np.testing.assert_allclose(efficiency(X, Y, o, r), ref.efficiency(X, Y, o, r), atol=TOL)
    for secondary in ("aggressive", "benevolent"):
        ce, E = cross_efficiency(X, Y, secondary, return_matrix=True)
        ce_r, E_r = ref.cross_efficiency(X, Y, secondary, return_matrix=True)
        np.testing.assert_allclose(E, E_r, atol=TOL)
        np.testing.assert_allclose(ce, ce_r, atol=TOL)


# Cooper, Seiford & Tone, "Data Envelopment Analysis" (2nd ed., Springer 2007): 12 hospitals,
# inputs doctors and nurses, outputs outpatients and inpatients (data as in the book, also in
# public GAMS transcriptions), with the book's CCR (input-oriented) scores to 3 decimals.
TEXTBOOK_X = np.array([[20, 151], [19, 131], [25, 160], [27, 168], [22, 158], [55, 255],
                       [33, 235], [31, 206], [30, 244], [50, 268], [53, 306], [38, 284]], float)
TEXTBOOK_Y = np.array([[100, 90], [150, 50], [160, 55], [180, 72], [94, 66], [230, 90],
                       [220, 88], [152, 80], [190, 100], [250, 100], [260, 147], [250, 120]],
                      float)
TEXTBOOK_CCR = [1.0, 1.0, 0.883, 1.0, 0.763, 0.835, 0.902, 0.796, 0.960, 0.871, 0.955, 0.958]


def test_textbook_hospital_ccr_scores():
    got = efficiency(TEXTBOOK_X, TEXTBOOK_Y)
    np.testing.assert_allclose(got, TEXTBOOK_CCR, atol=5e-4)
    np.testing.assert_allclose(got, ref.efficiency(TEXTBOOK_X, TEXTBOOK_Y), atol=TOL)


# ---- parity with HiGHS on random instances --------------------------------------------------


@settings(max_examples=100, **SETTINGS)
@given(dims=dims, seed=seeds, spread=st.sampled_from([0.3, 1.0, 2.0]))
def test_efficiency_parity(dims, seed, spread):
    X, Y = random_instance(seed, *dims, spread=spread)
    for o in ("input", "output"):
        for r in ("crs", "vrs"):
            np.testing.assert_allclose(efficiency(X, Y, o, r), ref.efficiency(X, Y, o, r), atol=TOL, rtol=0)


@settings(max_examples=60, **SETTINGS)
@given(dims=dims, seed=seeds)
def test_efficiency_parity_tied(dims, seed):
    X, Y = tied_instance(seed, *dims)
    for o in ("input", "output"):
        for r in ("crs", "vrs"):
            np.testing.assert_allclose(efficiency(X, Y, o, r), ref.efficiency(X, Y, o, r), atol=TOL, rtol=0)


@settings(max_examples=80, **SETTINGS)
@given(dims=dims, seed=seeds, secondary=st.sampled_from(["aggressive", "benevolent"]))
def test_cross_efficiency_parity(dims, seed, secondary):
    """Continuous random data: the secondary LP has a unique optimum (probability one), so
    the whole matrix E is comparable; the objective value is compared as well."""
    X, Y = random_instance(seed, *dims)
    theta, colsum, E, obj, status, _ = _cross_full(X, Y, secondary, want_matrix=True)
    ce_r, E_r, obj_r = ref.cross_efficiency(X, Y, secondary, return_matrix=True, return_objective=True)
    assert (status == 0).all()
    np.testing.assert_allclose(theta[0], np.diagonal(E_r), atol=TOL, rtol=0)
    np.testing.assert_allclose(obj[0], obj_r, atol=TOL, rtol=TOL)
    np.testing.assert_allclose(E[0], E_r, atol=TOL, rtol=0)
    np.testing.assert_allclose(cross_efficiency(X, Y, secondary), ce_r, atol=TOL, rtol=0)


@settings(max_examples=60, **SETTINGS)
@given(dims=dims, seed=seeds, secondary=st.sampled_from(["aggressive", "benevolent"]))
def test_cross_efficiency_parity_tied(dims, seed, secondary):
    """Degenerate data (shared columns, duplicates, ties): weights may be non-unique, so
    compare only the uniquely defined quantities: theta and the secondary objective."""
    X, Y = tied_instance(seed, *dims)
    theta, _, E, obj, status, _ = _cross_full(X, Y, secondary, want_matrix=True)
    _, E_r, obj_r = ref.cross_efficiency(X, Y, secondary, return_matrix=True, return_objective=True)
    assert (status == 0).all()
    np.testing.assert_allclose(theta[0], np.diagonal(E_r), atol=TOL, rtol=0)
    np.testing.assert_allclose(obj[0], obj_r, atol=TOL, rtol=TOL)


def test_study_shaped_parity():
    """n = 126, 5 inputs on ~6 shared hosts, 1 output (very degenerate LPs)."""
    rng = np.random.default_rng(7)
    X, Y = study_instance(rng, 1)
    theta, _, _, obj, status, _ = _cross_full(X, Y, "aggressive")
    _, E_r, obj_r = ref.cross_efficiency(X[0], Y, "aggressive", return_matrix=True, return_objective=True)
    assert (status == 0).all()
    np.testing.assert_allclose(theta[0], np.diagonal(E_r), atol=TOL, rtol=0)
    np.testing.assert_allclose(obj[0], obj_r, atol=TOL, rtol=TOL)


def test_study_shaped_many_draws_no_failures():
    rng = np.random.default_rng(11)
    X, Y = study_instance(rng, 300)
    for secondary in ("aggressive", "benevolent"):
        ce = cross_efficiency(X, Y, secondary)  # raises DEAError on any failed LP
        assert ce.shape == (300, 126)
        assert np.all((ce > 0) & (ce <= 1 + 1e-12))


# ---- properties -----------------------------------------------------------------------------


@settings(max_examples=100, **SETTINGS)
@given(dims=dims, seed=seeds, tied=st.booleans())
def test_efficiency_properties(dims, seed, tied):
    X, Y = (tied_instance if tied else random_instance)(seed, *dims)
    crs = efficiency(X, Y)
    vrs_in = efficiency(X, Y, rts="vrs")
    vrs_out = efficiency(X, Y, "output", "vrs")
    for e in (crs, vrs_in, vrs_out):
        assert np.all(e > 0) and np.all(e <= 1 + 1e-12)
    assert abs(crs.max() - 1.0) < 1e-12  # the best ratio unit is always CCR-efficient
    np.testing.assert_allclose(efficiency(X, Y, "output"), crs, atol=1e-12)  # CRS: 1/phi = theta
    assert np.all(vrs_in >= crs - 1e-12) and np.all(vrs_out >= crs - 1e-12)


@settings(max_examples=100, **SETTINGS)
@given(
    dims=dims,
    seed=seeds,
    col=st.integers(0, 6),
    factor=st.sampled_from([1e-6, 1e-3, 0.37, 7.0, 1e4, 1e6]),
)
def test_rescaling_invariance(dims, seed, col, factor):
    X, Y = random_instance(seed, *dims)
    m = X.shape[1]
    X2, Y2 = X.copy(), Y.copy()
    if col < m:
        X2[:, col] *= factor
    else:
        Y2[:, (col - m) % Y.shape[1]] *= factor
    np.testing.assert_allclose(efficiency(X2, Y2), efficiency(X, Y), atol=1e-10)
    np.testing.assert_allclose(efficiency(X2, Y2, rts="vrs"), efficiency(X, Y, rts="vrs"), atol=1e-10)
    for secondary in ("aggressive", "benevolent"):
        np.testing.assert_allclose(cross_efficiency(X2, Y2, secondary), cross_efficiency(X, Y, secondary), atol=1e-9)


@settings(max_examples=100, **SETTINGS)
@given(dims=dims, seed=seeds, data=st.data())
def test_monotonicity(dims, seed, data):
    """Raising one unit's input (or lowering its output) never raises its efficiency."""
    X, Y = random_instance(seed, *dims)
    n, m = X.shape
    d = data.draw(st.integers(0, n - 1))
    factor = data.draw(st.floats(1.0, 100.0))
    base = efficiency(X, Y)[d]
    base_vrs = efficiency(X, Y, rts="vrs")[d]
    X2 = X.copy()
    X2[d, data.draw(st.integers(0, m - 1))] *= factor
    assert efficiency(X2, Y)[d] <= base + 1e-12
    assert efficiency(X2, Y, rts="vrs")[d] <= base_vrs + 1e-12
    Y2 = Y.copy()
    Y2[d, data.draw(st.integers(0, Y.shape[1] - 1))] /= factor
    assert efficiency(X, Y2)[d] <= base + 1e-12


@settings(max_examples=100, **SETTINGS)
@given(dims=dims, seed=seeds, tied=st.booleans(), secondary=st.sampled_from(["aggressive", "benevolent", "none"]))
def test_cross_efficiency_properties(dims, seed, tied, secondary):
    """E[d, k] <= theta_k (d's weights are feasible in k's CCR LP), so 0 < E <= 1, the
    diagonal is theta and every mean cross-efficiency is at most the unit's efficiency."""
    X, Y = (tied_instance if tied else random_instance)(seed, *dims)
    ce, E = cross_efficiency(X, Y, secondary, return_matrix=True)
    theta = efficiency(X, Y)
    n = len(theta)
    np.testing.assert_allclose(np.diag(E), theta, atol=1e-12)
    assert np.all(E > 0)
    assert np.all(E <= theta[None, :] + 1e-9)
    assert np.all(ce <= theta + 1e-9)
    np.testing.assert_allclose(ce, E.mean(axis=0), atol=1e-12)
    ce_ex = cross_efficiency(X, Y, secondary, include_self=False)
    np.testing.assert_allclose(ce_ex, (E.sum(0) - theta) / (n - 1), atol=1e-12)
    # each rating unit's weights make at least one unit efficient (a constraint binds)
    assert np.all(E.max(axis=1) > 1 - 1e-9)


# ---- edge cases -------------------------------------------------------------------------------


def test_duplicates_and_ties_get_equal_scores():
    X, Y = random_instance(3, 7, 3, 2)
    X[4], Y[4] = X[1], Y[1]  # unit 4 duplicates unit 1
    for secondary in ("aggressive", "benevolent"):
        ce, E = cross_efficiency(X, Y, secondary, return_matrix=True)
        assert ce[4] == pytest.approx(ce[1], abs=1e-12)
        np.testing.assert_allclose(E[:, 4], E[:, 1], atol=1e-12)
    theta = efficiency(X, Y)
    assert theta[4] == pytest.approx(theta[1], abs=1e-14)
    # all units identical: everybody is efficient, every score is 1
    Xs, Ys = np.ones((5, 2)), np.full((5, 1), 3.0)
    np.testing.assert_allclose(efficiency(Xs, Ys), 1.0)
    np.testing.assert_allclose(efficiency(Xs, Ys, rts="vrs"), 1.0)
    np.testing.assert_allclose(cross_efficiency(Xs, Ys), 1.0)
    np.testing.assert_allclose(cross_efficiency(Xs, Ys, "benevolent"), 1.0)


def test_dominating_unit():
    """A unit with the smallest inputs and largest outputs is rated 1 by every unit's
    optimal weights (some constraint must bind and it has the largest ratio)."""
    X, Y = random_instance(5, 9, 3, 2, spread=0.5)
    X[2] = X.min(axis=0) * 0.5
    Y[2] = Y.max(axis=0) * 2.0
    for secondary in ("aggressive", "benevolent", "none"):
        ce, E = cross_efficiency(X, Y, secondary, return_matrix=True)
        np.testing.assert_allclose(E[:, 2], 1.0, atol=1e-12)
        assert ce[2] == pytest.approx(1.0, abs=1e-12)
    theta = efficiency(X, Y)
    assert theta[2] == 1.0 and np.all(np.delete(theta, 2) < 1)


def test_six_orders_of_magnitude():
    """Columns spanning ~1e-3..1e3 within the column and 1e-6..1e6 between columns."""
    rng = np.random.default_rng(9)
    n = 12
    X = np.exp(rng.uniform(np.log(1e-3), np.log(1e3), size=(n, 3))) * np.array([1e-6, 1.0, 1e6])
    Y = np.exp(rng.uniform(np.log(1e-3), np.log(1e3), size=(n, 2))) * np.array([1e5, 1e-5])
    for o in ("input", "output"):
        for r in ("crs", "vrs"):
            np.testing.assert_allclose(efficiency(X, Y, o, r), ref.efficiency(X, Y, o, r), atol=TOL, rtol=0)
    for secondary in ("aggressive", "benevolent"):
        theta, _, E, obj, status, _ = _cross_full(X, Y, secondary, want_matrix=True)
        _, E_r, obj_r = ref.cross_efficiency(X, Y, secondary, return_matrix=True, return_objective=True)
        assert (status == 0).all()
        np.testing.assert_allclose(obj[0], obj_r, rtol=TOL, atol=TOL)
        np.testing.assert_allclose(E[0], E_r, atol=TOL)


def test_two_units_and_one_unit():
    X = np.array([[1.0], [2.0]])
    Y = np.array([[1.0], [1.0]])
    np.testing.assert_allclose(efficiency(X, Y), [1.0, 0.5])
    np.testing.assert_allclose(cross_efficiency(X, Y), [1.0, 0.5])
    np.testing.assert_allclose(efficiency(X[:1], Y[:1]), [1.0])
    np.testing.assert_allclose(efficiency(X[:1], Y[:1], "output", "vrs"), [1.0])
    with pytest.raises(ValueError, match="at least 2 units"):
        cross_efficiency(X[:1], Y[:1])


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.nan, "NaN or infinite"),
        (np.inf, "NaN or infinite"),
        (0.0, "strictly positive"),
        (-1.0, "strictly positive"),
    ],
)
@pytest.mark.parametrize("where", ["inputs", "outputs"])
def test_invalid_values(bad, match, where):
    X, Y = random_instance(1, 5, 2, 2)
    if where == "inputs":
        X[3, 1] = bad
    else:
        Y[2, 0] = bad
    with pytest.raises(ValueError, match=f"{where}.*{match}|{match}"):
        efficiency(X, Y)
    with pytest.raises(ValueError, match=where):
        cross_efficiency(X, Y)


def test_invalid_shapes_and_options():
    X, Y = random_instance(1, 5, 2, 2)
    with pytest.raises(ValueError, match="units"):
        efficiency(X, Y[:4])
    with pytest.raises(ValueError, match="shape"):
        efficiency(X[0], Y)
    with pytest.raises(ValueError, match="broadcast"):
        efficiency(np.stack([X] * 3), np.stack([Y] * 2))
    with pytest.raises(ValueError, match="no columns"):
        efficiency(X[:, :0], Y)
    with pytest.raises(ValueError, match="numeric"):
        efficiency(X.astype(str), Y)
    with pytest.raises(ValueError, match="orientation"):
        efficiency(X, Y, orientation="sideways")
    with pytest.raises(ValueError, match="rts"):
        efficiency(X, Y, rts="irs")
    with pytest.raises(ValueError, match="secondary"):
        cross_efficiency(X, Y, secondary="friendly")
    with pytest.raises(ValueError, match="on_error"):
        efficiency(X, Y, on_error="ignore")


def test_lp_failure_reporting():
    status = np.zeros((2, 3), dtype=np.int64)
    status[1, 2] = 12
    with pytest.raises(DEAError, match="secondary LP of unit 2 .*unbounded"):
        _raise_or_nan(status, "raise", "cross_efficiency", (2,))
    bad = _raise_or_nan(status, "nan", "cross_efficiency", (2,))
    assert bad.sum() == 1 and bad[1, 2]


def test_batched_equals_loop_and_broadcasting():
    rng = np.random.default_rng(4)
    X = rng.lognormal(size=(3, 2, 6, 3))
    Y = rng.lognormal(size=(6, 2))  # broadcast against the (3, 2) leading dims
    for o, r in (("input", "crs"), ("input", "vrs"), ("output", "vrs")):
        batched = efficiency(X, Y, o, r)
        assert batched.shape == (3, 2, 6)
        for i in np.ndindex(3, 2):
            np.testing.assert_array_equal(batched[i], efficiency(X[i], Y, o, r))
    for secondary in ("aggressive", "benevolent", "none"):
        ce, E = cross_efficiency(X, Y, secondary, return_matrix=True)
        assert ce.shape == (3, 2, 6) and E.shape == (3, 2, 6, 6)
        for i in np.ndindex(3, 2):
            ce_i, E_i = cross_efficiency(X[i], Y, secondary, return_matrix=True)
            np.testing.assert_array_equal(ce[i], ce_i)
            np.testing.assert_array_equal(E[i], E_i)
        np.testing.assert_array_equal(cross_efficiency(X, Y, secondary), ce)


def test_thread_count_independence():
    rng = np.random.default_rng(12)
    X, Y = study_instance(rng, 40, n=60)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = [cross_efficiency(X, Y, s, return_matrix=True) for s in ("aggressive", "benevolent")]
        eff1 = efficiency(X, Y, rts="vrs")
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = [cross_efficiency(X, Y, s, return_matrix=True) for s in ("aggressive", "benevolent")]
        eff2 = efficiency(X, Y, rts="vrs")
    finally:
        numba.set_num_threads(before)
    for (a, Ea), (b, Eb) in zip(one, two):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(Ea, Eb)
    np.testing.assert_array_equal(eff1, eff2)


def test_none_secondary_is_a_valid_optimum():
    """'none' uses whatever optimal primary weights the solver finds: not unique, but
    each row must still be a valid set of CCR-optimal weights."""
    X, Y = tied_instance(21, 8, 3, 2)
    ce, E = cross_efficiency(X, Y, "none", return_matrix=True)
    theta = efficiency(X, Y)
    np.testing.assert_allclose(np.diag(E), theta, atol=1e-12)
    assert np.all(E <= theta[None, :] + 1e-9)


# ---- stored outputs: bit for bit across kernel restructurings --------------------------------
# tests/dea_golden.npz holds study-shaped inputs (3 draws, 30 units with duplicates) and
# every entry point's outputs as computed by the kernels of commit cdc46de (before the
# drivers were split per LP family and moved off ``prange``; regenerate only on purpose, with
# ``python tests/test_dea.py``, and say in the changelog why the numbers changed).
GOLDEN = Path(__file__).with_name("dea_golden.npz")


def golden_outputs(X, Y):
    """Every DEA entry point on (X, Y), by name."""
    out = {}
    for sec in ("aggressive", "benevolent", "none"):
        out[f"ce-{sec}"], out[f"E-{sec}"] = cross_efficiency(X, Y, sec, return_matrix=True)
        out[f"ce-{sec}-others"] = cross_efficiency(X, Y, sec, include_self=False)
    for rts in ("crs", "vrs"):
        for orientation in ("input", "output"):
            out[f"eff-{rts}-{orientation}"] = efficiency(X, Y, orientation, rts)
    return out


def golden_inputs():
    rng = np.random.default_rng(2026)
    X, Y = study_instance(rng, 3, n=30)
    X[:, 20:25] = X[:, 5:10]  # duplicated units: degenerate LPs, ties in the weights
    Y[20:25] = Y[5:10]
    return X, Y


def test_outputs_match_stored_bit_for_bit():
    stored = np.load(GOLDEN)
    X, Y = golden_inputs()
    np.testing.assert_array_equal(stored["X"], X)
    np.testing.assert_array_equal(stored["Y"], Y)
    now = golden_outputs(X, Y)
    assert sorted(now) == sorted(k for k in stored.files if k not in ("X", "Y"))
    for name, value in now.items():
        np.testing.assert_array_equal(value, stored[name], err_msg=name)
    # and the stored numbers are the study's DEA: the SciPy/HiGHS twin agrees
    for sec in ("aggressive", "benevolent"):
        np.testing.assert_allclose(stored[f"ce-{sec}"], ref.cross_efficiency(X, Y, sec), atol=TOL)


if __name__ == "__main__":  # regenerate tests/dea_golden.npz (on purpose only)
    _X, _Y = golden_inputs()
    np.savez_compressed(GOLDEN, X=_X, Y=_Y, **golden_outputs(_X, _Y))
