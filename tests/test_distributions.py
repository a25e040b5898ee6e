"""Every distribution kind against scipy.stats (quantiles/moments) and its validation."""

import math

import numpy as np
import pytest
from scipy import special, stats

from mcfoot import distributions as d

U = np.linspace(0.001, 0.999, 999)


@pytest.mark.parametrize(
    ("kind", "params", "frozen"),
    [
        ("uniform", {"low": 2.0, "high": 5.0}, stats.uniform(2.0, 3.0)),
        ("triangular", {"low": 0.0, "mode": 1.0, "high": 4.0}, stats.triang(0.25, 0.0, 4.0)),
        ("truncnormal", {"mean": 0.3, "sd": 0.1, "low": 0.0},
         stats.truncnorm(-3.0, np.inf, loc=0.3, scale=0.1)),
        ("truncnormal", {"mean": 1.0, "sd": 2.0}, stats.norm(1.0, 2.0)),
        ("pert", {"low": 0.0, "mode": 1.0, "high": 4.0},
         stats.beta(1 + 4 * 0.25, 1 + 4 * 0.75, loc=0.0, scale=4.0)),
        ("beta", {"low": 1.0, "high": 3.0, "alpha": 2.0, "beta": 5.0},
         stats.beta(2.0, 5.0, loc=1.0, scale=2.0)),
        # symmetric in log space: exactly the ordinary lognormal
        ("lognormal", {"median": 2.0, "p5": 2.0 * np.exp(-1.6448536269514722 * 0.5),
                       "p95": 2.0 * np.exp(1.6448536269514722 * 0.5)},
         stats.lognorm(0.5, scale=2.0)),
    ],
)
def test_ppf_matches_scipy(kind, params, frozen):
    dist = d.make(kind, params)
    np.testing.assert_allclose(dist.ppf(U), frozen.ppf(U), rtol=1e-9, atol=1e-12)
    x = dist.ppf(np.random.default_rng(0).uniform(size=200_000))
    assert x.mean() == pytest.approx(frozen.mean(), rel=0.01, abs=1e-3)


def test_lognormal_skewed_range_hits_all_three_quantiles():
    dist = d.make("lognormal", {"median": 1.17, "p5": 1.12, "p95": 1.30, "shift": 1.0})
    np.testing.assert_allclose(dist.ppf(np.array([0.05, 0.5, 0.95])), [1.12, 1.17, 1.30])
    assert dist.support() == (1.0, np.inf)


def test_empirical_interpolates_and_clamps_like_the_study():
    dist = d.make("empirical", {"values": [1.0, 2.0, 4.0], "probs": [0.05, 0.5, 0.95]})
    got = dist.ppf(np.array([0.0, 0.05, 0.275, 0.5, 0.725, 0.95, 1.0]))
    np.testing.assert_allclose(got, [1.0, 1.0, 1.5, 2.0, 3.0, 4.0, 4.0])


def test_discrete_frequencies_and_median():
    dist = d.make("discrete", {"values": [4, 8, 16], "weights": [1, 2, 1]})
    x = dist.ppf(np.random.default_rng(1).uniform(size=100_000))
    freq = [(x == v).mean() for v in (4, 8, 16)]
    np.testing.assert_allclose(freq, [0.25, 0.5, 0.25], atol=0.01)
    assert dist.median() == 8


def test_fixed():
    dist = d.make("fixed", {"value": 1.12})
    assert dist.is_fixed and np.all(dist.ppf(U) == 1.12)


@pytest.mark.parametrize(
    ("kind", "params", "fragment"),
    [
        ("gamma", {"a": 1}, "unknown distribution 'gamma'"),
        ("uniform", {"low": 1.0}, "needs parameter(s) high"),
        ("uniform", {"low": 1.0, "high": 2.0, "mode": 1.5}, "does not take parameter(s) mode"),
        ("uniform", {"low": 2.0, "high": 1.0}, "needs low < high"),
        ("uniform", {"low": "1", "high": 2.0}, "must be a number"),
        ("uniform", {"low": float("nan"), "high": 2.0}, "must be finite"),
        ("uniform", {"low": True, "high": 2.0}, "must be a number"),
        ("lognormal", {"median": 1.0, "p5": 2.0, "p95": 1.5}, "p5 < p95"),
        ("lognormal", {"median": 3.0, "p5": 1.0, "p95": 2.0}, "p5 <= median <= p95"),
        ("lognormal", {"median": 1.1, "p5": 1.0, "p95": 1.3, "shift": 1.0}, "shift < p5"),
        ("truncnormal", {"mean": 1.0, "sd": 0.0}, "sd > 0"),
        ("triangular", {"low": 0.0, "mode": 5.0, "high": 4.0}, "low <= mode <= high"),
        ("pert", {"low": 0.0, "mode": 1.0, "high": 4.0, "shape": -1}, "shape > 0"),
        ("beta", {"low": 0.0, "high": 1.0, "alpha": 0.0, "beta": 1.0}, "alpha > 0"),
        ("empirical", {"values": [1.0, 0.5], "probs": [0.1, 0.9]}, "must not decrease"),
        ("empirical", {"values": [1.0, 2.0], "probs": [0.9, 0.1]}, "increase strictly"),
        ("empirical", {"values": [1.0, 2.0, 3.0], "probs": [0.1, 0.9]}, "differ in length"),
        ("discrete", {"values": [1, 2], "weights": [-1, 2]}, "weights' must be >= 0"),
        ("discrete", {"values": [2, 1], "weights": [1, 1]}, "increase strictly"),
    ],
)
def test_bad_parameters_are_named(kind, params, fragment):
    with pytest.raises(d.ParameterError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        d.make(kind, params)


@pytest.mark.parametrize("mean, sd, low, high", [
    (0.3, 0.1, 0.0, math.inf), (1.0, 2.0, -math.inf, math.inf), (1.2, 0.1, 1.0, math.inf),
    (5.0, 1.0, 6.0, 9.0), (5.0, 1.0, -2.0, 3.0), (0.0, 1.0, -1.0, 1.0),
    (0.0, 1.0, -math.inf, -3.0), (0.5, 0.2, 0.0, 1.0)])
def test_truncnormal_ppf_is_scipys_bit_for_bit(mean, sd, low, high):
    """The truncnormal inverse CDF (scipy.special alone, no scipy.stats import) gives
    scipy.stats.truncnorm's numbers exactly: left, right and central cases, both tails, the
    ends 0 and 1, and out-of-range u (NaN), for arrays of any shape and scalars."""
    rng = np.random.default_rng(1)
    u = np.concatenate([rng.random(20_000), special.ndtr(4 * rng.standard_normal(20_000)),
                        [0.0, 1.0, 1e-300, 1 - 1e-16, 0.5, np.nan, -0.1, 1.1]])
    dist = d.make("truncnormal", {"mean": mean, "sd": sd, "low": low, "high": high})
    ref = stats.truncnorm((low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd)
    for x in (u, u[:40_000].reshape(200, 200), u[:3], 0.3):
        got, want = np.asarray(dist.ppf(x)), np.asarray(ref.ppf(x))
        assert got.shape == want.shape
        assert np.array_equal(got.view(np.int64), want.view(np.int64))
