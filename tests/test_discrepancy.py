"""The discrepancy model: its closed forms against SciPy, its file validated whole,
dependent entries left out of calibration, leave-one-source-out with a fresh source effect,
and the bad inputs the CLI refuses with exit 2 and nothing written."""

from __future__ import annotations

import importlib
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import mcfoot
from mcfoot import discrepancy as disc, distributions as dists
from mcfoot.errors import InputError
from mcfoot.estimate import EstimateWarning

cal = importlib.import_module("mcfoot.calibrate")
ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "mcfoot" / "data" / "measurement.toml"


def _random_source(k, n, seed):
    g = np.random.default_rng(seed)
    return g.normal(0, 0.7, (k, n)), g.uniform(0.05, 0.6, (k, n)), g.uniform(0.01, 1.0, n)


@pytest.mark.parametrize("nu", [4.0, 11.5, math.inf])
@pytest.mark.parametrize("k", [1, 3])
def test_source_density_is_the_multivariate_t(nu, k):
    """Sherman-Morrison closed form = SciPy's multivariate t / normal on the full matrix."""
    r, d, tau2 = _random_source(k, 5, k)
    got = disc.source_log_density(r, d, tau2, nu)
    for i in range(5):
        cov = tau2[i] * np.ones((k, k)) + np.diag(d[:, i])
        want = stats.multivariate_normal(np.zeros(k), cov).logpdf(r[:, i]) if math.isinf(nu) \
            else stats.multivariate_t(np.zeros(k), cov, df=nu).logpdf(r[:, i])
        assert got[i] == pytest.approx(want, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("nu", [4.0, math.inf])
def test_conditional_is_joint_over_rest(nu):
    """The conditional t of one figure given its source's others has density joint / rest."""
    r, d, tau2 = _random_source(3, 6, 7)
    for j in range(3):
        loc, scale, dof = disc.conditional(r, d, tau2, nu, j)
        rest = [i for i in range(3) if i != j]
        want = disc.source_log_density(r, d, tau2, nu) - \
            disc.source_log_density(r[rest], d[rest], tau2, nu)
        dens = stats.norm if math.isinf(nu) else stats.t(dof)
        got = dens.logpdf((r[j] - loc) / scale) - np.log(scale)
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_mixture_quantiles_invert_the_mixture_cdf():
    g = np.random.default_rng(3)
    loc, scale = g.normal(0, 1, (2, 50)), g.uniform(0.1, 1, (2, 50))
    w = g.uniform(size=50)
    w /= w.sum()
    q = disc.mixture_quantiles(loc, scale, 4.0, w, [0.05, 0.5, 0.95])
    for e in range(2):
        for k, p in enumerate((0.05, 0.5, 0.95)):
            assert stats.t(4).cdf((q[e, k] - loc[e]) / scale[e]) @ w == pytest.approx(p, abs=1e-9)


def test_shipped_model_loads_and_classes_every_variable():
    m = disc.load()
    assert m.nu == 4.0 and m.residual_floor > 0 and m.source_scale is not None
    assert set(m.boundary_of) == set(mcfoot.variables.FOOTPRINT)
    assert m.streams(["energy", "water", "energy"]) == [
        "discrepancy/source_scale", "discrepancy/boundary_scale/energy",
        "discrepancy/boundary_scale/water"]


def _bad_model(tmp_path, old, new):
    text = SHIPPED.read_text()
    assert old in text
    p = tmp_path / "bad_discrepancy.toml"
    p.write_text(text.replace(old, new, 1))
    return p


def test_discrepancy_prior_not_positive_is_refused(tmp_path):
    p = _bad_model(tmp_path, 'source_scale = { dist = "lognormal", median = 0.5, p5 = 0.15, '
                   'p95 = 1.5,', 'source_scale = { dist = "uniform", low = -0.1, high = 1.5,')
    with pytest.raises(InputError) as e:
        disc.load(p)
    msg = str(e.value)
    assert str(p) in msg and "[discrepancy] source_scale" in msg and "not positive" in msg


def test_discrepancy_file_reports_every_problem(tmp_path):
    p = _bad_model(tmp_path, "nu = 4.0", "nu = -1.0")
    p.write_text(p.read_text().replace('variables = ["energy_wh", "energy_it_wh"]',
                                       'variables = ["energy_wh", "energy_xx"]'))
    with pytest.raises(InputError) as e:
        disc.load(p)
    msg = str(e.value)
    assert "nu must be > 0" in msg and "'energy_xx'" in msg and "energy_it_wh" in msg


def test_independent_model_is_the_lognormal_of_independent_figures():
    """discrepancy=None: per-source rows sum to the independent lognormal densities."""
    obs = [o for o in cal.shipped_observations() if o.lab is None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        lik = cal.Likelihood(mcfoot.load_scenario("default"), obs, discrepancy=None)
    ss = mcfoot.rng.normalize_seed(1)
    z = np.stack([mcfoot.rng.standard_normals(ss, s, 0, 30) for s in lik.streams])
    mu = lik.predict(z)
    want = stats.norm(np.log(mu), lik.sigma[:, None]).logpdf(np.log(lik.y)[:, None]) \
        - np.log(lik.y)[:, None]
    np.testing.assert_allclose(lik(z).sum(0), want.sum(0), rtol=1e-10)
    np.testing.assert_allclose(lik.entry_log_lik(mu, z), want, rtol=1e-9)
    assert lik.sigma.tolist() == [cal.FLOOR] * len(obs)


def test_shipped_model_adds_scale_streams_and_a_fresh_source_effect():
    obs = [o for o in cal.shipped_observations() if o.lab is None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        lik = cal.Likelihood(mcfoot.load_scenario("default"), obs)
    assert "discrepancy/source_scale" in lik.streams
    assert lik.sources == ["google", "openai", "mistral"]
    ss = mcfoot.rng.normalize_seed(2)
    z = np.stack([mcfoot.rng.standard_normals(ss, s, 0, 20) for s in lik.streams])
    mu = lik.predict(z)
    tau2, d = lik.variances(z)
    loc, scale, nu = lik.predictive(mu, z)
    np.testing.assert_allclose(scale ** 2, tau2 + d)  # the source effect is drawn anew
    np.testing.assert_allclose(loc, np.log(mu))
    assert np.all(tau2 > 0) and np.all(d > lik.sigma[:, None] ** 2)
    # Google's four figures are one joint density, not four independent votes
    g = lik.members[0]
    assert len(g) == 4
    rows = lik(z)
    assert rows.shape == (3, 20) and np.all(np.isfinite(rows))
    r, _ = lik.residuals(mu)
    np.testing.assert_allclose(rows[0], disc.source_log_density(r[g], d[g], tau2, 4.0)
                               - np.log(lik.y[g]).sum())


def test_dependent_entries_left_out_by_default_and_kept_on_request():
    sc = mcfoot.load_scenario("default")
    obs, left = cal.select_observations(sc, None)
    ids = [o.id for o in obs]
    assert "google-gemini-apps-carbon" not in ids
    assert "cif_market[Google]" in left["google-gemini-apps-carbon"]
    assert "cannot predict" in left["mlenergy-v3-llama31-8b-h100-b64"]
    assert "lower bound" in left["mistral-large2-water"]
    kept, left2 = cal.select_observations(sc, None, keep_dependent=True)
    assert "google-gemini-apps-carbon" in [o.id for o in kept]
    assert "google-gemini-apps-carbon" not in left2
    serving, left3 = cal.select_observations(mcfoot.load_scenario("serving"), None)
    assert "bench_fit" in left3["mlenergy-v3-llama31-8b-h100-b64"]  # learned from it


# ---- leave-one-source-out on the conjugate test scenario (fast) --------------------------

from test_calibrate import energy_per_kw, setup  # noqa: E402,F401  (the module fixture)


def _obs(value, oid):
    return cal.Observation(id=oid, value=value, unit="Wh", variables=("energy_wh",),
                           models=(("my-model", 1.0),),
                           output_tokens=dists.make("fixed", {"value": 300}),
                           input_tokens=dists.make("fixed", {"value": 100}),
                           statistic="mean", source=f"test source {oid.split('-')[0]}")


def test_leave_one_source_out(setup):
    from mcfoot.loso import loso, table

    toml, catp = setup
    k = energy_per_kw()
    obs = [_obs(6.0 * k, "a-1"), _obs(5.0 * k, "a-2"), _obs(4.0 * k, "b-1"),
           _obs(30.0 * k, "c-1")]
    ds = loso(toml, obs, draws=1500, min_ess=300, seed=3, catalogue=catp)
    assert list(ds.source.values) == ["a", "b", "c"]
    assert ds.sizes["entry"] == 4
    # the prior's ELPD of a source: log mean over prior draws of its joint density
    lik = cal.Likelihood(mcfoot.load_scenario(toml), obs, catp)
    ss = mcfoot.rng.normalize_seed(3)
    z = np.stack([mcfoot.rng.standard_normals(ss, s, 0, 1500) for s in lik.streams])
    ll = lik(z)
    want = np.log(np.exp(ll).mean(axis=1))
    np.testing.assert_allclose(ds["elpd"].sel(model="prior").values, want, rtol=1e-9)
    a = ds.attrs
    assert a["elpd_prior"] == pytest.approx(want.sum())
    assert a["elpd_diff"] == pytest.approx(a["elpd_calibrated"] - a["elpd_prior"])
    assert a["inside_calibrated"] == int(ds["inside"].sel(model="calibrated").sum())
    # the outlier source c sits far above what a and b predict: outside, PIT near 1
    assert float(ds["pit"].sel(model="calibrated", entry="c-1")) > 0.95
    # intervals hold the prediction: lower < median < upper, widths > 1
    assert bool((ds["lower"] < ds["median"]).all() and (ds["median"] < ds["upper"]).all())
    text = table(ds)
    assert "ELPD calibrated" in text and "median P95/P5" in text and "c-1" in text
    # a held-out source gets a fresh source effect: without the source term the
    # calibrated intervals are narrower
    no_src = disc.Discrepancy(4.0, 0.1, None, lik.disc.boundary_scales, lik.disc.boundary_of)
    ds0 = loso(toml, obs, draws=1500, min_ess=300, seed=3, catalogue=catp,
               discrepancy=no_src)
    assert float(ds0["width"].sel(model="calibrated", entry="b-1")) < \
        float(ds["width"].sel(model="calibrated", entry="b-1"))


# ---- bad input through the CLI: exit 2, one message naming file and entry, nothing written

def _bad_discrepancy_file(tmp_path):
    return _bad_model(tmp_path, "median = 0.2, p5 = 0.05, p95 = 0.6",
                      "median = 0.2, p5 = -0.05, p95 = 0.6")


BAD_CLI = {  # what is bad -> (extra arguments, what the one error line must name)
    "an entry the scenario cannot predict": (
        lambda tmp: ["--evidence", str(ROOT / "priors" / "evidence" / "published.toml")],
        ["mlenergy-v3-llama31-8b-h100-b64", "published.toml", "cannot predict"]),
    "a missing source field": (
        lambda tmp: ["--evidence", str(ROOT / "tests" / "bad_evidence" / "missing_source.toml")],
        ["missing_source.toml", "e1", "source"]),
    "a discrepancy prior that is not positive": (
        lambda tmp: ["--discrepancy", str(_bad_discrepancy_file(tmp))],
        ["bad_discrepancy.toml", "[discrepancy.boundary.energy] scale"]),
}


@pytest.mark.parametrize("case", list(BAD_CLI))
def test_cli_bad_input_exit_2_names_file_and_entry_writes_nothing(case, tmp_path, capsys):
    from mcfoot.cli import main

    extra, names = BAD_CLI[case]
    out = tmp_path / "post.nc"
    code = main(["calibrate", "--scenario", "default", "--draws", "200", "-o", str(out),
                 *extra(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert len(err.strip().splitlines()) == 1, err
    for n in names:
        assert n in err, (n, err)


def test_observation_without_source_is_refused(setup):
    toml, catp = setup
    o = cal.Observation(id="x-1", value=1.0, unit="Wh", variables=("energy_wh",),
                        models=(("my-model", 1.0),),
                        output_tokens=dists.make("fixed", {"value": 300}))
    with pytest.raises(InputError, match="'x-1' has no source"):
        cal.calibrate(toml, [o], draws=200, catalogue=catp, footprint=False)


def test_calibrate_records_and_prints_what_it_left_out(tmp_path, capsys):
    from mcfoot.cli import main

    out = tmp_path / "post.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        assert main(["calibrate", "--scenario", "default", "--draws", "400", "--min-ess",
                     "100", "--no-footprint", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "left out:" in err and "google-gemini-apps-carbon: shares data" in err
    attrs = mcfoot.io.read_tree(out, require=None).attrs
    assert "cif_market[Google]" in attrs["left_out"]
    assert "google-gemini-apps-carbon" not in attrs["evidence"].split(";")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        kept = cal.calibrate("default", draws=400, min_ess=100, footprint=False,
                             keep_dependent=True)
    assert "google-gemini-apps-carbon" in kept.attrs["evidence"].split(";")
    assert "google-gemini-apps-carbon" not in kept.attrs["left_out"]
    post, prior = kept["posterior"].to_dataset(), kept["prior"].to_dataset()
    for v in ("discrepancy__source_scale", "discrepancy__boundary_scale__carbon"):
        assert np.all(prior[v].values > 0) and v in post  # the scales are calibrated too
    # the prior draws of a scale follow its prior: median 0.5 (measurement.toml)
    assert float(np.median(prior["discrepancy__source_scale"])) == pytest.approx(0.5, rel=0.1)
