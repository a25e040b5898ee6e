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


def _random_figures(n, seed, shared):
    """Six figures of three sources and two boundary classes, their residuals and scale
    matrices (n draws) under per-figure or shared boundary effects."""
    g = np.random.default_rng(seed)
    src, cls = [0, 0, 0, 1, 1, 2], ["energy", "water", "energy", "energy", "water", "water"]
    r, d = g.normal(0, 0.7, (6, n)), g.uniform(0.01, 0.3, (6, n))
    tau2, tb2 = g.uniform(0.01, 1.0, n), {c: g.uniform(0.01, 0.5, n) for c in ("energy",
                                                                              "water")}
    if not shared:
        d = d + np.array([tb2[c] for c in cls])
        tb2 = {}
    return r, disc.covariance(tau2, d, src, cls, tb2)


@pytest.mark.parametrize("nu", [4.0, 11.5, math.inf])
@pytest.mark.parametrize("shared", [False, True])
def test_density_is_scipys_multivariate_t(nu, shared):
    """The Cholesky closed form = SciPy's multivariate t / normal on the full matrix, and
    the matrix is tau_src^2 S S^T + tau_b^2 B B^T + diag(d) entry by entry."""
    r, cov = _random_figures(5, 1, shared)
    got = disc.mvt_log_density(r, cov, nu)
    for i in range(5):
        want = stats.multivariate_normal(np.zeros(6), cov[i]).logpdf(r[:, i]) \
            if math.isinf(nu) else stats.multivariate_t(np.zeros(6), cov[i], df=nu).logpdf(r[:, i])
        assert got[i] == pytest.approx(want, rel=1e-10, abs=1e-10)
    # figures of different sources correlate only through a shared boundary effect
    assert (cov[:, 1, 4] > 0).all() == shared and (cov[:, 0, 4] == 0).all()
    assert (cov[:, 0, 3] > 0).all() == shared and (cov[:, 0, 2] > 0).all()


@pytest.mark.parametrize("nu", [4.0, math.inf])
@pytest.mark.parametrize("shared", [False, True])
def test_conditional_is_scipys_joint_over_rest(nu, shared):
    """The conditional t of one figure given any others has density joint / rest, both
    from SciPy's multivariate t (normal): updated dof nu + m and the stretched scale."""
    r, cov = _random_figures(4, 7, shared)
    for j, given in ((0, [1, 2]), (4, [0, 1, 2, 3, 5]), (5, [3]), (2, [])):
        loc, scale, dof = disc.mvt_conditional(r, cov, nu, j, given)
        both = sorted([j, *given])
        for i in range(4):
            def lp(idx, i=i):
                c = cov[i][np.ix_(idx, idx)]
                return stats.multivariate_normal(np.zeros(len(idx)), c).logpdf(r[idx, i]) \
                    if math.isinf(nu) else \
                    stats.multivariate_t(np.zeros(len(idx)), c, df=nu).logpdf(r[idx, i])
            want = lp(both) - (lp(given) if given else 0.0)
            dens = stats.norm if math.isinf(nu) else stats.t(dof)
            got = dens.logpdf((r[j, i] - loc[i]) / scale[i]) - np.log(scale[i])
            assert got == pytest.approx(want, rel=1e-9, abs=1e-10)
        assert dof == nu + len(given)


def test_groups_link_sources_through_shared_classes():
    src, cls = [0, 0, 1, 2, 3], ["energy", "water", "energy", "carbon", ""]
    per = disc.groups(src, cls, shared=False)
    assert [g.tolist() for g in per] == [[0, 1], [2], [3], [4]]
    sh = disc.groups(src, cls, shared=True)
    assert [g.tolist() for g in sh] == [[0, 1, 2], [3], [4]]


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


@pytest.mark.parametrize("bad", ["true", '"4"', "inf"])
def test_discrepancy_number_that_is_not_a_finite_number_is_refused(tmp_path, bad):
    p = _bad_model(tmp_path, "nu = 4.0", f"nu = {bad}")
    with pytest.raises(InputError) as e:
        disc.load(p)
    assert "[discrepancy] nu must be a number, got " in str(e.value)


def test_unknown_boundary_effect_is_refused(tmp_path):
    p = _bad_model(tmp_path, 'boundary_effect = "shared"', 'boundary_effect = "pooled"')
    with pytest.raises(InputError) as e:
        disc.load(p)
    assert "boundary_effect must be one of 'per_figure', 'shared', got 'pooled'" in str(e.value)
    assert disc.load().boundary_effect == "shared"  # the shipped one (won out of sample)


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


def test_per_figure_model_adds_scale_streams_and_a_fresh_source_effect():
    import dataclasses

    obs = [o for o in cal.shipped_observations() if o.lab is None]
    per = dataclasses.replace(disc.load(), boundary_effect="per_figure")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        lik = cal.Likelihood(mcfoot.load_scenario("default"), obs, discrepancy=per)
    assert "discrepancy/source_scale" in lik.streams
    assert lik.sources == ["google", "openai", "mistral"]
    ss = mcfoot.rng.normalize_seed(2)
    z = np.stack([mcfoot.rng.standard_normals(ss, s, 0, 20) for s in lik.streams])
    mu = lik.predict(z)
    tau2, d, shared = lik.variances(z)
    assert shared == {}  # the boundary effect is drawn per figure
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
    for i in range(3):
        cov = tau2[i] + np.diag(d[g, i])  # one source: tau_src^2 11^T + diag(d)
        want = stats.multivariate_t(np.zeros(4), cov, df=4.0).logpdf(r[g, i]) \
            - np.log(lik.y[g]).sum()
        assert rows[0, i] == pytest.approx(want, rel=1e-10)
    np.testing.assert_allclose(lik.source_loo_log_lik(mu, z), rows)


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
    # the prior's ELPD of a source: log mean over prior draws of its figures' marginal
    # density (with the shipped shared boundary effect, not the chain-rule rows lik(z))
    lik = cal.Likelihood(mcfoot.load_scenario(toml), obs, catp)
    ss = mcfoot.rng.normalize_seed(3)
    z = np.stack([mcfoot.rng.standard_normals(ss, s, 0, 1500) for s in lik.streams])
    ll = lik.source_loo_log_lik(lik.predict(z), z, given=False)
    assert len(lik.groups) == 1  # the three sources' energy figures share one beta
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


def test_leave_one_source_out_with_a_shared_boundary_effect(setup):
    """The shared configuration runs through loso: a single figure's prior predictive is
    the same in both configurations (tau_src^2 + tau_b^2 + sigma^2 either way), a source
    with two figures of one class is not (their boundary effect is one, not two), and the
    held-out source's calibrated predictive conditions on the others (dof nu + their
    number)."""
    import dataclasses

    from mcfoot.loso import loso, table

    toml, catp = setup
    k = energy_per_kw()
    obs = [_obs(6.0 * k, "a-1"), _obs(5.0 * k, "a-2"), _obs(4.0 * k, "b-1"),
           _obs(30.0 * k, "c-1")]
    shared = dataclasses.replace(disc.load(), boundary_effect="shared")
    kw = dict(draws=1500, min_ess=300, seed=3, catalogue=catp)
    per = loso(toml, obs, discrepancy=dataclasses.replace(shared, boundary_effect="per_figure"),
               **kw)
    sh = loso(toml, obs, discrepancy=shared, **kw)
    assert sh.attrs["boundary_effect"] == "shared" and per.attrs["boundary_effect"] == "per_figure"
    assert "boundary effect shared" in table(sh)
    pe, se = per["elpd"].sel(model="prior"), sh["elpd"].sel(model="prior")
    np.testing.assert_allclose(se.sel(source=["b", "c"]), pe.sel(source=["b", "c"]), rtol=1e-9)
    assert abs(float(se.sel(source="a")) - float(pe.sel(source="a"))) > 1e-3
    assert np.isfinite(sh["elpd"].values).all()
    assert bool((sh["lower"] < sh["median"]).all() and (sh["median"] < sh["upper"]).all())
    lik = cal.Likelihood(mcfoot.load_scenario(toml), obs, catp, discrepancy=shared)
    ss = mcfoot.rng.normalize_seed(3)
    z = np.stack([mcfoot.rng.standard_normals(ss, s, 0, 10) for s in lik.streams])
    _, _, dof = lik.predictive(lik.predict(z), z)
    assert dof.tolist() == [4.0 + 2, 4.0 + 2, 4.0 + 3, 4.0 + 3]


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


def test_shared_boundary_effect_is_one_multivariate_t_over_all_figures():
    """boundary_effect = "shared": every figure of a class shares one beta, so figures of
    different sources correlate; the joint is SciPy's multivariate t over all of them, the
    per-source rows sum to it, and a held-out source's predictive conditions on the other
    sources' residuals (the per-figure model's would not move)."""
    import dataclasses

    obs = [o for o in cal.shipped_observations() if o.lab is None]
    shared = disc.load()
    assert shared.boundary_effect == "shared"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        lik = cal.Likelihood(mcfoot.load_scenario("default"), obs, discrepancy=shared)
        per = cal.Likelihood(mcfoot.load_scenario("default"), obs, discrepancy=dataclasses.replace(
            shared, boundary_effect="per_figure"))
    assert len(lik.groups) == 1 and len(per.groups) == len(per.sources)
    ss = mcfoot.rng.normalize_seed(5)
    z = np.stack([mcfoot.rng.standard_normals(ss, s, 0, 6) for s in lik.streams])
    mu = lik.predict(z)
    r, _ = lik.residuals(mu)
    cov = lik.covariance(z)
    logy = np.log(lik.y).sum()
    joint = np.array([stats.multivariate_t(np.zeros(len(obs)), cov[i], df=4.0).logpdf(r[:, i])
                      for i in range(6)]) - logy
    np.testing.assert_allclose(lik(z).sum(axis=0), joint, rtol=1e-9)
    loo = lik.source_loo_log_lik(mu, z)
    for s, m in enumerate(lik.members):
        rest = np.setdiff1d(np.arange(len(obs)), m)
        others = np.array([stats.multivariate_t(np.zeros(len(rest)), cov[i][np.ix_(rest, rest)],
                                                df=4.0).logpdf(r[rest, i]) for i in range(6)])
        np.testing.assert_allclose(loo[s], joint - others + np.log(lik.y[rest]).sum(),
                                   rtol=1e-9)
    loc, _, dof = lik.predictive(mu, z)  # each source held out, given the others
    loc0, _, _ = per.predictive(mu, z)
    moved = np.abs(loc - np.log(mu)).max(axis=1) > 1e-6
    elsewhere = [any(c == lik.boundary[i] for i in range(len(obs))
                     if lik.source_index[i] != lik.source_index[e])
                 for e, c in enumerate(lik.boundary)]
    assert moved.tolist() == elsewhere and any(elsewhere) and not all(elsewhere)
    np.testing.assert_allclose(loc0, np.log(mu))  # per figure: a fresh effect, no update
    for s, m in enumerate(lik.members):
        assert (dof[m] == 4.0 + len(obs) - len(m)).all()
