"""Calibration: known answers (conjugate lognormal), degenerate weights detected and
handled, reproducibility across chunking, the calibrated scenario in simulate and on disk,
ArviZ conventions, leave-one-out."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import mcfoot
from mcfoot import _arviz, distributions as dists, tempering

cal = importlib.import_module("mcfoot.calibrate")  # the module (mcfoot.calibrate is the function)
from mcfoot.catalogue import shipped_path
from mcfoot.errors import CalibrationError, InputError
from mcfoot.estimate import EstimateWarning

TEMPLATE = shipped_path().parent / "catalogue_template.csv"
LAT_S, SPEED, PUE, U = 0.5, 50.0, 1.25, 0.05
MEDIAN_KW, P5_KW, P95_KW = 4.0, 2.0, 8.0  # a symmetric-in-logs lognormal prior on node power

SCENARIO = f"""
[meta]
schema = 1
name = "conjugate"
description = "one lognormal multiplicative input, everything else fixed"
extends = "paper"

[pue."my-dc"]
dist = "fixed"
value = {PUE}
unit = "1"
source = "test"
[wue_site."my-dc"]
dist = "fixed"
value = 0.5
unit = "L/kWh"
source = "test"
[wue_source."my-dc"]
dist = "fixed"
value = 2.0
unit = "L/kWh"
source = "test"
[cif."my-dc"]
dist = "fixed"
value = 0.3
unit = "kg CO2e/kWh"
source = "test"
[gpu_node_power."My Accel x8"]
dist = "lognormal"
median = {MEDIAN_KW}
p5 = {P5_KW}
p95 = {P95_KW}
unit = "kW"
source = "test"
[nongpu_node_power."My Accel x8"]
dist = "fixed"
value = 0.0
unit = "kW"
source = "test"
[gpu_util_min.medium."My Accel x8"]
dist = "fixed"
value = {U}
unit = "1"
source = "test"
[gpu_util_max.medium."My Accel x8"]
dist = "fixed"
value = {U}
unit = "1"
source = "test"
[nongpu_util.medium."My Accel x8"]
dist = "fixed"
value = 0.0
unit = "1"
source = "test"
[cif_market."my-dc"]
dist = "fixed"
value = 0.1
unit = "kg CO2e/kWh"
source = "test"
[idle_fraction."My Accel x8"]
dist = "fixed"
value = 0.0
unit = "1"
source = "test"
[gpus_per_node."My Accel x8"]
dist = "fixed"
value = 8
unit = "GPUs"
source = "test"
[embodied_accelerator."My Accel x8"]
dist = "fixed"
value = 100.0
unit = "kg CO2e"
source = "test"
[embodied_node."My Accel x8"]
dist = "fixed"
value = 1000.0
unit = "kg CO2e"
source = "test"
[hardware_lifetime."My Accel x8"]
dist = "fixed"
value = 3.0
unit = "yr"
source = "test"
[fleet_utilisation."My Accel x8"]
dist = "fixed"
value = 1.0
unit = "1"
source = "test"
[node_share.medium."My Accel x8"]
dist = "fixed"
value = 0.125
unit = "1"
source = "test"
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("conj")
    df = pd.read_csv(TEMPLATE)
    df["host"], df["hardware"], df["size_class"] = "my-dc", "My Accel x8", "medium"
    for s in ("p05", "p25", "p50", "p75", "p95"):
        df[f"first_chunk_s_{s}"] = LAT_S
        df[f"tokens_per_s_{s}"] = SPEED
    catp = d / "cat.csv"
    df.to_csv(catp, index=False)
    toml = d / "conj.toml"
    toml.write_text(SCENARIO)
    return toml, catp


def energy_per_kw(t_out=300):
    """Energy (Wh) per kW of node power: everything but the power is exact here."""
    return 1000.0 * (LAT_S + t_out / SPEED) / 3600.0 * U * PUE


def obs(value, log_sd=0.0, oid="e1"):
    return cal.Observation(id=oid, value=value, unit="Wh", variables=("energy_wh",),
                           models=(("my-model", 1.0),),
                           output_tokens=dists.make("fixed", {"value": 300}),
                           input_tokens=dists.make("fixed", {"value": 100}),
                           statistic="mean", log_sd=log_sd)


def analytic(y, s_obs):
    """Posterior mean and sd of node power (kW): normal-normal in logs."""
    mu0, s0 = math.log(MEDIAN_KW), math.log(P95_KW / MEDIAN_KW) / 1.6448536269514722
    prec = 1 / s0**2 + 1 / s_obs**2
    m = (mu0 / s0**2 + (math.log(y) - math.log(energy_per_kw())) / s_obs**2) / prec
    v = 1 / prec
    return math.exp(m + v / 2), math.exp(m + v / 2) * math.sqrt(math.exp(v) - 1)


def posterior_power(tree):
    p = tree["posterior"]["gpu_node_power"].values.reshape(-1)
    return p.mean(), p.std()


@pytest.mark.parametrize("y_kw, s_obs", [(6.0, 0.35), (2.5, 0.5)])
def test_conjugate_lognormal_matches_analytic_posterior(setup, y_kw, s_obs):
    toml, catp = setup
    y = y_kw * energy_per_kw()
    t = cal.calibrate(toml, [obs(y, s_obs)], discrepancy=None, draws=8000, min_ess=1000, seed=1,
                      catalogue=catp, footprint=False)
    assert t.attrs["method"] == "importance"
    m, s = posterior_power(t)
    m0, s0 = analytic(y, s_obs)
    ess = t.attrs["ess"]
    # Monte Carlo error of the mean: s / sqrt(ESS); of the sd: ~ s / sqrt(2 ESS) (x 4 margin)
    assert abs(m - m0) < 4 * s0 / math.sqrt(ess)
    assert abs(s - s0) < 4 * s0 / math.sqrt(2 * ess) * 1.5


def test_degenerate_weights_detected_and_tempering_recovers_analytic(setup):
    toml, catp = setup
    y = 40.0 * energy_per_kw()  # 10x the prior median: k̂ explodes
    o = obs(y, 0.35)
    with pytest.raises(CalibrationError, match="degenerate"):
        cal.calibrate(toml, [o], discrepancy=None, draws=4000, min_ess=1000, seed=2, catalogue=catp,
                      method="importance", footprint=False)
    t = cal.calibrate(toml, [o], discrepancy=None, draws=4000, min_ess=1000, seed=2, catalogue=catp,
                      footprint=False)
    assert t.attrs["method"] == "tempering"
    assert t.attrs["prior_khat"] > 0.7 or t.attrs["prior_ess"] < 1000
    assert t.attrs["ess"] >= 1000 and t.attrs["tempering_steps"] >= 2
    m, s = posterior_power(t)
    m0, s0 = analytic(y, 0.35)
    assert abs(m - m0) < 5 * s0 / math.sqrt(1000)
    assert abs(s / s0 - 1) < 0.12
    assert "tempering" in t.children and t["tempering"]["beta"].values[-1] == 1.0


def test_impossible_evidence_is_refused(setup):
    toml, catp = setup
    o = obs(energy_per_kw() * 1e9, 0.35)  # a billion kW
    with pytest.raises(CalibrationError, match="prior-data conflict: .*e1"):
        cal.calibrate(toml, [o], discrepancy=None, draws=2000, min_ess=500, seed=0, catalogue=catp,
                      footprint=False)
    # asked to go on: the (conjugate) compromise, or a refusal; never a wrong answer
    try:
        t = cal.calibrate(toml, [o], discrepancy=None, draws=2000, min_ess=500, seed=0, catalogue=catp,
                          footprint=False, allow_conflict=True)
    except CalibrationError as e:
        assert "tempering" in str(e) or "standard deviations" in str(e)
    else:
        assert float(t["observed_data"]["prior_pit"][0]) > 1 - 1e-6
        m0, s0 = analytic(o.value, 0.35)
        assert abs(posterior_power(t)[0] / m0 - 1) < 0.05


def test_same_seed_same_posterior_whatever_the_chunking(setup):
    toml, catp = setup
    o = obs(40.0 * energy_per_kw(), 0.35)
    a = cal.calibrate(toml, [o], discrepancy=None, draws=3000, min_ess=500, seed=5, catalogue=catp,
                      footprint=False, chunk_draws=3000)
    b = cal.calibrate(toml, [o], discrepancy=None, draws=3000, min_ess=500, seed=5, catalogue=catp,
                      footprint=False, chunk_draws=700)
    for g in ("calibration", "posterior", "log_likelihood"):
        xr.testing.assert_identical(a[g].to_dataset().drop_attrs(),
                                    b[g].to_dataset().drop_attrs())


def test_engine_gaussian_known_answer():
    ss = mcfoot.rng.normalize_seed(0)
    z0 = mcfoot.rng.standard_normals(ss, "x", 0, 6000)[None]
    y, s = 8.0, 0.1  # 8 prior sds out: importance sampling degenerate
    f = tempering.fit(lambda z: -0.5 * ((y - z) / s) ** 2, z0, ss, min_ess=1000)
    assert f.method == "tempering" and f.prior_khat > 0.7
    w = f.weights
    m = (w * f.z[0]).sum()
    sd = math.sqrt((w * (f.z[0] - m) ** 2).sum())
    assert abs(m - y / (1 + s * s)) < 4 * sd / math.sqrt(f.ess)
    assert abs(sd / math.sqrt(s * s / (1 + s * s)) - 1) < 0.1


def test_an_ess_of_every_draw_is_refused_before_any_work():
    """Asking for an ESS equal to the draws needs equal weights: tempering would creep at
    beta ~ 1e-7 for its whole step budget (what ``calibrate --draws 2000`` did with the old
    fixed default of 2000). It is refused at once, and the default asks for at most half."""
    ss = mcfoot.rng.normalize_seed(0)
    z0 = mcfoot.rng.standard_normals(ss, "x", 0, 500)[None]
    calls = []

    def loglik(z):
        calls.append(z.shape)
        return -0.5 * ((8.0 - z) / 0.1) ** 2

    with pytest.raises(InputError, match=r"below the draws \(500\), got 500"):
        tempering.fit(loglik, z0, ss, min_ess=500)
    assert calls == []
    assert [tempering.default_min_ess(d) for d in (1, 2000, 3999, 4000, 50_000)] == \
        [1, 1000, 1999, 2000, tempering.MIN_ESS]
    f = tempering.fit(loglik, z0, ss, min_ess=tempering.default_min_ess(500))
    assert f.method == "tempering" and f.ess >= 250


def test_calibrate_refuses_a_bad_min_ess_before_evaluating_the_prior(monkeypatch):
    """``calibrate`` checks ``min_ess`` (given, or its default) before it builds the
    likelihood and predicts every prior draw (seconds at 20,000 draws), and when the default
    is what fails (``draws=1``), the error says so instead of blaming an option not given."""
    calls = []
    monkeypatch.setattr(cal, "Likelihood", lambda *a, **k: calls.append(a))
    with pytest.raises(InputError, match=r"below the draws \(400\), got 400"):
        mcfoot.calibrate("serving", draws=400, min_ess=400, footprint=False)
    with pytest.raises(InputError, match=r"its default for 1 draws is 1"):
        mcfoot.calibrate("serving", draws=1, footprint=False)
    assert calls == []


def test_mixing_diagnostic_fires_when_moves_cannot_decorrelate():
    """A narrow curved ridge (z1 ~ z0^2 within 0.02): moves of one input at a time leave
    it, joint moves along it need tiny steps, so in MAX_MOVES moves the particles stay
    correlated with where resampling put them; the result must say so. A Gaussian posterior
    of the same two inputs (independent) mixes, and says that."""
    ss = mcfoot.rng.normalize_seed(3)
    z0 = np.stack([mcfoot.rng.standard_normals(ss, n, 0, 3000) for n in ("a", "b")])
    ridge = tempering.fit(lambda z: (-0.5 * ((z[1] - z[0] ** 2 + 1) / 0.02) ** 2)[None],
                          z0, ss, min_ess=1000)
    assert ridge.method == "tempering"
    assert max(st["correlation"] for st in ridge.stages) > tempering.CORRELATION
    assert tempering.mixing(ridge.stages).startswith("WARNING")
    easy = tempering.fit(lambda z: (-0.5 * ((z - 3.0) / 0.3) ** 2).sum(axis=0)[None],
                         z0, ss, min_ess=1000)
    assert easy.method == "tempering"
    assert max(st["correlation"] for st in easy.stages) < tempering.CORRELATION
    assert not tempering.mixing(easy.stages).startswith("WARNING")


def test_psis_shim_normalizes_and_flags_heavy_tails():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3000)
    lw, k = _arviz.psis(-0.5 * ((x - 0.3) / 2.0) ** 2)
    assert abs(np.exp(lw).sum() - 1) < 1e-12 and k < 0.5
    _, k_bad = _arviz.psis(-0.5 * ((x - 4.0) / 0.2) ** 2)
    assert k_bad > 0.7
    assert _arviz.khat_threshold(100) < 0.7 and _arviz.khat_threshold(10_000) == 0.7


def test_calibrated_scenario_in_simulate_and_on_disk(setup, tmp_path):
    toml, catp = setup
    y = 6.0 * energy_per_kw()
    t = cal.calibrate(toml, [obs(y, 0.35)], discrepancy=None, draws=4000, min_ess=500, seed=1,
                      catalogue=catp, footprint=True)
    sc = cal.calibrated_scenario(t)
    assert sc.posterior is not None and sc.name == "conjugate+calibrated"
    r1 = mcfoot.simulate(sc, draws=3000, seed=9, catalogue=catp)
    r2 = mcfoot.simulate(sc, draws=3000, seed=9, catalogue=catp, chunk_draws=1000)
    xr.testing.assert_identical(r1["footprint"].to_dataset(), r2["footprint"].to_dataset())
    e = r1["footprint"]["energy_wh"].sel(model="my-model", prompt="short").values
    m0, _ = analytic(y, 0.35)
    assert abs(e.mean() / (m0 * energy_per_kw()) - 1) < 0.05  # posterior, not prior (4 kW)
    path = tmp_path / "posterior.nc"
    mcfoot.write_tree(t, path)
    r3 = mcfoot.simulate(str(path), draws=3000, seed=9, catalogue=catp)
    np.testing.assert_array_equal(r3["footprint"]["energy_wh"].values,
                                  r1["footprint"]["energy_wh"].values)
    assert r3.attrs["scenario"] == "conjugate+calibrated"
    # the footprint groups of the file are the calibrated scenario's run
    assert t["footprint"]["energy_wh"].sizes["draw"] == 4000


def test_arviz_conventions(setup):
    toml, catp = setup
    t = cal.calibrate(toml, [obs(6.0 * energy_per_kw(), 0.35, "a"),
                             obs(5.0 * energy_per_kw(), 0.5, "b")],
                      discrepancy=None, draws=3000, min_ess=500, seed=1, catalogue=catp, footprint=False)
    for g in ("prior", "posterior", "log_likelihood", "posterior_predictive"):
        assert t[g].to_dataset().sizes["chain"] == 1
    assert list(t["observed_data"]["published"].entry.values) == ["a", "b"]
    idata = cal.to_inference_data(t)
    if _arviz.arviz_major() >= 1:
        import arviz_stats as azs

        loo = azs.loo(idata, var_name="published")
        azs.summary(idata, var_names=["gpu_node_power"])
    else:
        import warnings

        import arviz as az

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = az.loo(idata, var_name="published")
            az.summary(idata, var_names=["gpu_node_power"])
    elpd = loo.elpd_loo if hasattr(loo, "elpd_loo") else loo.elpd  # arviz 0.x | 1.x
    assert np.isfinite(float(elpd))
    plain = mcfoot.simulate("paper", draws=50, seed=0, models=["gpt-4o-mar"])
    pd_ = cal.to_inference_data(plain)
    ds = pd_["prior"] if _arviz.arviz_major() >= 1 else pd_.prior
    assert ds.sizes["chain"] == 1 and "energy_wh" in ds


def test_bad_observations():
    with pytest.raises(InputError, match="variable"):
        cal.Observation(id="x", value=1.0, unit="Wh", variables=("energy_xx",),
                        models=(("m", 1.0),), output_tokens=dists.make("fixed", {"value": 3}))
    with pytest.raises(InputError, match="sum to 1"):
        cal.Observation(id="x", value=1.0, unit="Wh", variables=("energy_wh",),
                        models=(("m", 0.5),), output_tokens=dists.make("fixed", {"value": 3}))
    with pytest.raises(InputError, match="positive"):
        cal.Observation(id="x", value=-1.0, unit="Wh", variables=("energy_wh",),
                        models=(("m", 1.0),), output_tokens=dists.make("fixed", {"value": 3}))


def test_leave_one_out_by_reweighting(setup):
    toml, catp = setup
    k = energy_per_kw()
    obs2 = [obs(6.0 * k, 0.35, "a-1"), obs(5.0 * k, 0.35, "a-2"), obs(40.0 * k, 0.35, "b-1")]
    t = cal.calibrate(toml, obs2, discrepancy=None, draws=6000, min_ess=500, seed=3, catalogue=catp,
                      footprint=False, allow_conflict=True)
    res = cal.loo(t, models=["my-model"], prompts=["short", "long"], catalogue=catp)
    assert list(res.entry.values) == ["a-1", "a-2", "b-1"]
    assert np.all((res.pit >= 0) & (res.pit <= 1))
    # the outlier b-1 is far above what the other two predict: PIT near 1, outside 90 %
    assert float(res.pit.sel(entry="b-1")) > 0.95 and not bool(res.in_90.sel(entry="b-1"))
    assert 0 <= res.attrs["coverage_90"] <= 1
    # each entry narrows the interval of the model it informs (it is the only input)
    assert float(res.narrowing.sel(entry="a-1").min()) > 0
    # the outlier pulls the median up: holding it out moves the estimate down
    assert float(res.median_shift.sel(entry="b-1").min()) > 0.1
    energy, lw = cal.headline_energy(t, ["my-model"], ["short", "long"], catalogue=catp)
    lw_b, _ = importlib.import_module("mcfoot.loo")._loo_log_weights(t["calibration"].to_dataset(), ["b-1"])
    want = np.log(cal.weighted_quantile(energy.values, lw, [0.5])[..., 0]
                  / cal.weighted_quantile(energy.values, lw_b, [0.5])[..., 0])
    np.testing.assert_allclose(res.median_shift.sel(entry="b-1").values, want, rtol=1e-12)
    by_source = cal.loo(t, by="source", models=["my-model"], prompts=["short"],
                        catalogue=catp)
    assert set(by_source.group.values) == {"a", "b"}
    # holding out a source weighs without both its entries: a-1 alone vs with a-2
    assert float(by_source.pit.sel(entry="a-1")) != float(res.pit.sel(entry="a-1"))


def test_shipped_evidence_measurement_model():
    """Every shipped entry (less the documented exclusions) gets a finite positive prediction
    under `serving`, lab entries through the serving physics; other attributions refuse lab
    entries by name."""
    import warnings

    obs_ = cal.shipped_observations()
    ids = [o.id for o in obs_]
    assert "mistral-large2-water" not in ids and any(o.lab is not None for o in obs_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        lik = cal.Likelihood(mcfoot.load_scenario("serving"), obs_)
        ss = mcfoot.rng.normalize_seed(0)
        z = np.stack([mcfoot.rng.standard_normals(ss, s, 0, 40) for s in lik.streams])
        mu = lik.predict(z)
        assert mu.shape == (len(obs_), 40) and np.all(np.isfinite(mu) & (mu > 0))
        ll = lik(z)
        assert np.all(np.isfinite(ll))
        # Google's narrow boundary is below its comprehensive one in every draw
        i, j = ids.index("google-gemini-apps-energy-active-accelerators"), \
            ids.index("google-gemini-apps-energy")
        assert np.all(mu[i] < mu[j])
        with pytest.raises(InputError, match="lab configuration"):
            cal.Likelihood(mcfoot.load_scenario("default"), obs_)
    o = next(o for o in obs_ if o.lab is None)
    assert o.sigma == cal.FLOOR  # no stated uncertainty: the floor


def test_cli_calibrate_bad_usage(capsys):
    from mcfoot.cli import main

    assert main(["calibrate", "--scenario", "serving"]) == 2
    assert "nothing to do" in capsys.readouterr().err
    assert main(["calibrate", "-o", "/nonexistent-dir/p.nc"]) == 2
    assert main(["calibrate", "--exclude", "no-such-entry", "--loo"]) == 2
    assert "unknown evidence id" in capsys.readouterr().err


@pytest.fixture(scope="module")
def posterior_file(tmp_path_factory):
    """A small calibrated scenario file on the shipped catalogue: ``default`` conditioned
    on OpenAI's two figures (importance sampling, 2,000 draws)."""
    import warnings

    obs = [o for o in cal.shipped_observations() if o.id.startswith("openai")]
    with warnings.catch_warnings():  # the token prior spans a segment where speed rises
        warnings.simplefilter("ignore", EstimateWarning)
        tree = cal.calibrate("default", evidence=obs, draws=2000, min_ess=200, seed=4,
                             footprint=False)
    assert tree.attrs["method"] == "importance"
    path = tmp_path_factory.mktemp("post") / "posterior.nc"
    mcfoot.write_tree(tree, path)
    return path


def _median_energy(text: str, model: str) -> float:
    """The energy_wh median of ``model`` in `mcfoot estimate --json` output."""
    import json

    rows = json.loads(text)
    rows = rows if isinstance(rows, list) else rows.get("rows", rows.get("estimates", rows))
    for r in rows:
        if r.get("model") == model and r.get("variable") == "energy_wh":
            return float(r["median"])
    raise AssertionError(f"no energy_wh row for {model} in {text[:300]}")


def test_cli_commands_take_a_calibrated_file(posterior_file, tmp_path, capsys):
    """`mcfoot run`, `estimate` and `compare` accept --scenario posterior.nc, and what they
    compute is the posterior (it differs from the base scenario's prior at the same seed;
    `run` equals simulate() of the file)."""
    from mcfoot.cli import main

    m = "gpt-4o-chatgpt"
    out = tmp_path / "run.nc"
    assert main(["run", "--scenario", str(posterior_file), "--draws", "400", "--seed", "2",
                 "--models", m, "--prompts", "short", "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    got = mcfoot.read_tree(out)
    want = mcfoot.simulate(str(posterior_file), draws=400, seed=2, models=[m],
                           prompts=["short"])
    np.testing.assert_array_equal(got["footprint"]["energy_wh"].values,
                                  want["footprint"]["energy_wh"].values)
    assert got.attrs["scenario"] == "default+calibrated"
    prior = mcfoot.simulate("default", draws=400, seed=2, models=[m], prompts=["short"])
    assert not np.array_equal(prior["footprint"]["energy_wh"].values,
                              want["footprint"]["energy_wh"].values)

    med = {}
    for sc in (str(posterior_file), "default"):
        assert main(["estimate", "--model", m, "--output-tokens", "400", "--input-tokens",
                     "500", "--scenario", sc, "--draws", "400", "--seed", "2", "--json",
                     "-q"]) == 0
        med[sc] = _median_energy(capsys.readouterr().out, m)
    assert med[str(posterior_file)] != med["default"]

    assert main(["compare", "--scenario", str(posterior_file), "--draws", "400",
                 "--seed", "2", "-q"]) == 0
    text = capsys.readouterr().out
    assert "openai-chatgpt-energy" in text and "calibrated" in text


@pytest.mark.parametrize("scenario", ["serving", "default"])
def test_evaluate_repeat_equals_repeated_group_inputs(scenario):
    """evaluate(repeat=k) (group inputs once per draw, as calibration's query lattice uses
    it) gives the same bits as group inputs repeated k times by hand."""
    from mcfoot.simulate import Normals, _group_values, build_plan, draw_normals, evaluate

    plan = build_plan(scenario, None, ["gpt-4o-mar", "llama-3-1-70b-standard"],
                      ["short", "long"])
    n, k = 50, 3
    nz = draw_normals(plan, mcfoot.rng.normalize_seed(1), 0, n)
    vals = _group_values(plan, nz, n)
    q = cal.query_points(k, 2)
    lat = np.tile(q[0], (plan.n_slots, n))
    spd = np.tile(q[1], (plan.n_slots, n))
    a, _ = evaluate(plan, Normals({}, lat.copy(), spd.copy()), values=vals, repeat=k)
    b, _ = evaluate(plan, Normals({}, lat.copy(), spd.copy()),
                    values={x: np.repeat(v, k, axis=-1) for x, v in vals.items()})
    for key in mcfoot.variables.kernel_keys():
        np.testing.assert_array_equal(a[key], b[key])


def _weighted_power(t):
    """The importance-sampling estimate of the posterior mean node power (kW): the weighted
    mean over the prior draws (before resampling)."""
    c = t["calibration"]
    (stream,) = [s for s in c.stream.values if s.startswith("gpu_node_power/")]
    z = c["z"].sel(stream=stream).values
    power = np.exp(math.log(MEDIAN_KW) + math.log(P95_KW / MEDIAN_KW) / 1.6448536269514722 * z)
    return float(np.sum(np.exp(c["log_weight"].values) * power))


def test_sobol_prior_draws_importance_sampling_and_tempering(setup):
    """sampling="sobol": the prior draws are a scrambled Sobol' design (recorded on the
    prior group); importance sampling over it recovers the conjugate posterior mean with a
    smaller error than over pseudo-random draws; tempering starts from it; the posterior
    draws and footprints are plain Monte Carlo (root attrs say so)."""
    toml, catp = setup
    y = 6.0 * energy_per_kw()
    m0, _ = analytic(y, 0.35)
    err = {"mc": [], "sobol": []}
    for seed in range(6):
        for sampling in err:
            t = cal.calibrate(toml, [obs(y, 0.35)], discrepancy=None, draws=4096, min_ess=1000, seed=seed,
                              catalogue=catp, footprint=False, sampling=sampling)
            assert t.attrs["method"] == "importance"
            err[sampling].append(_weighted_power(t) - m0)
    rms = {k: math.sqrt(np.mean(np.square(v))) for k, v in err.items()}
    assert rms["mc"] > 5 * rms["sobol"], rms  # measured 16x (seeds 0-5)
    assert t.attrs["sampling"] == "mc" and t.attrs["prior_sampling"] == "sobol"
    assert t["prior"].attrs["sampling"] == "sobol"
    assert t["prior"].attrs["sampling_replicates"] == 16
    assert t["prior"].attrs["sampling_dimensions"] == t["calibration"].sizes["stream"]
    again = cal.calibrate(toml, [obs(y, 0.35)], discrepancy=None, draws=4096, min_ess=1000, seed=5,
                          catalogue=catp, footprint=False, sampling="sobol", chunk_draws=1000)
    assert np.array_equal(again["calibration"]["z"].values, t["calibration"]["z"].values)
    hard = obs(40.0 * energy_per_kw(), 0.35)
    t = cal.calibrate(toml, [hard], discrepancy=None, draws=4096, min_ess=1000, seed=2, catalogue=catp,
                      footprint=False, sampling="sobol", replicates=8)
    assert t.attrs["method"] == "tempering" and t["prior"].attrs["sampling_replicates"] == 8
    m, s = posterior_power(t)
    m1, s1 = analytic(40.0 * energy_per_kw(), 0.35)
    assert abs(m - m1) < 5 * s1 / math.sqrt(1000)
    with pytest.raises(InputError, match=r"draws=4096 \(16 x 256\)"):
        cal.calibrate(toml, [hard], discrepancy=None, draws=4000, catalogue=catp, sampling="sobol")


def test_cli_calibrate_passes_the_sampling_design(capsys, tmp_path):
    from mcfoot.cli import main

    assert main(["calibrate", "--sampling", "sobol", "--draws", "4000", "--replicates", "8",
                 "-o", str(tmp_path / "p.nc")]) == 2
    assert "draws=4096 (8 x 512)" in capsys.readouterr().err
