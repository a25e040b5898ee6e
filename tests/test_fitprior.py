"""Priors drawn from the bench fit (``dist = "bench_fit"``, mcfoot/fitprior.py): joint draws
through one stream, the prior for hardware the bench never measured, the discrepancy carried
to catalogue models, a re-fitted file dropping in, copulas refused (bad entries: in
test_serving.py with the other bad serving entries)."""

import dataclasses

import numpy as np
import pytest
from scipy import special, stats

from mcfoot import PriorsError, distributions as dists, fitprior, rng
from mcfoot.priors import Prior, load_scenario, scenario_path
from mcfoot.serving import discrepancy_factor
from mcfoot.simulate import build_plan, draw_normals, simulate
from mcfoot.simulate import _group_values

FIT = fitprior.fit_dataset("bench")
H100 = "H100 SXM"


def _values(scenario="serving", draws=300, seed=11, models=("llama-3-1-8b",)):
    plan = build_plan(scenario, models=list(models), prompts=["short"])
    normals = draw_normals(plan, rng.normalize_seed(seed), 0, draws)
    return plan, _group_values(plan, normals, draws)


def test_fitted_quantities_are_one_joint_draw_of_the_posterior():
    """Every fitted quantity of a draw is the same posterior draw (the fit's correlations
    kept), picked by the stream bench/posterior as the bench predictor picks it."""
    plan, v = _values()
    assert plan.group_streams().count(fitprior.POSTERIOR_STREAM) == 1
    h = plan.keys["hardware"].index(H100)
    z = rng.standard_normals(rng.normalize_seed(11), fitprior.POSTERIOR_STREAM, 0, 300)
    n = FIT.sizes["chain"] * FIT.sizes["draw"]
    pick = np.minimum((special.ndtr(z) * n).astype(np.int64), n - 1)
    for q in fitprior.HARDWARE:
        np.testing.assert_array_equal(v[q][h], fitprior.flat_draws(FIT, f"{q}/H100")[pick])
    np.testing.assert_array_equal(v["model_effect_scale"][0],
                                  fitprior.flat_draws(FIT, "discrepancy/model_scale")[pick])
    # the joint block keeps the posterior's correlation between quantities
    a, b = (fitprior.flat_draws(FIT, f"{q}/H100") for q in ("bandwidth_efficiency",
                                                            "power_fraction_memory_bound"))
    r_fit = np.corrcoef(a, b)[0, 1]
    plan, v = _values(draws=4000)
    r_run = np.corrcoef(v["bandwidth_efficiency"][h], v["power_fraction_memory_bound"][h])[0, 1]
    assert abs(r_run - r_fit) < 0.1 and abs(r_fit) > 0.2


def test_same_numbers_whatever_the_chunking():
    one = simulate("serving", draws=240, seed=4, models=["llama-3-1-8b", "gpt-4"],
                   prompts=["short"])
    chunked = simulate("serving", draws=240, seed=4, models=["llama-3-1-8b", "gpt-4"],
                       prompts=["short"], chunk_draws=70, threads=2)
    for g in ("inputs", "footprint"):
        for k in one[g].data_vars:
            np.testing.assert_array_equal(one[g][k].values, chunked[g][k].values, err_msg=k)


def test_unmeasured_hardware_gets_a_wider_prior_between_the_fit_gpus():
    sc = load_scenario("serving")
    for q in fitprior.HARDWARE:
        wide = sc.priors[q][("TPU V6e",)].dist
        assert wide.kind == "logitnormal"
        logits = [special.logit(fitprior.flat_draws(FIT, f"{q}/{g}")) for g in ("H100", "B200")]
        assert min(x.mean() for x in logits) <= wide.params["mu"] <= max(x.mean() for x in logits)
        assert wide.params["sigma"] > max(x.std() for x in logits)  # wider than either GPU
        assert sc.priors[q][("DGX H800",)].dist.kind == "draws"  # H100 silicon: the fit's


def test_discrepancy_carries_to_models_the_bench_never_saw():
    """The catalogue's accelerator energy varies with the fit's learned model spread: fixing
    the model effect and residual at 0 narrows it, by about the fit's scale."""
    sc = load_scenario("serving")
    zero = dists.make("fixed", {"value": 0.0})
    priors = dict(sc.priors)
    for q in ("model_effect", "config_residual"):
        priors[q] = {k: dataclasses.replace(p, dist=zero) for k, p in sc.priors[q].items()}
    off = dataclasses.replace(sc, priors=priors)
    kw = dict(draws=2000, seed=2, models=["gpt-4o-mar"], prompts=["short"])
    with_d = np.log(simulate(sc, **kw)["footprint"]["energy_accelerator_wh"].values.ravel())
    without = np.log(simulate(off, **kw)["footprint"]["energy_accelerator_wh"].values.ravel())
    assert with_d.std() > without.std()
    tau = np.median(fitprior.flat_draws(FIT, "discrepancy/model_scale"))
    assert with_d.var() - without.var() > 0.5 * tau ** 2
    # the factor itself: exp(scale x t + scale x t), 1 at zero effects
    v = {"model_effect_scale": np.array([0.3]), "model_effect": np.array([0.0]),
         "residual_scale": np.array([0.1]), "config_residual": np.array([0.0])}
    assert discrepancy_factor(v)[0] == 1.0


def test_model_effect_is_the_fits_student_t():
    d = load_scenario("serving").priors["model_effect"][("large",)].dist
    assert d.params["nu"] == float(FIT.attrs["nu"])
    u = np.array([0.01, 0.3, 0.5, 0.9])
    np.testing.assert_allclose(d.ppf(u), stats.t.ppf(u, FIT.attrs["nu"]), rtol=1e-12)


def test_a_refitted_file_drops_in(tmp_path):
    """A fit file named by ``fit = PATH`` replaces the shipped one; the scenario hash changes."""
    refit = FIT.copy(deep=True)
    refit["bandwidth_efficiency__H100"] = refit["bandwidth_efficiency__H100"] * 0.5
    refit.attrs["fit_hash"] = "sha256:test-refit"
    path = tmp_path / "refit.nc"
    refit.to_netcdf(path)
    toml = tmp_path / "s.toml"
    toml.write_text(f'[meta]\nschema = 1\nname = "refit"\nextends = "{scenario_path("serving")}"\n'
                    f'[bandwidth_efficiency]\n"H100 SXM" = {{ dist = "bench_fit", parameter = '
                    f'"bandwidth_efficiency/H100", fit = "{path}", unit = "1", source = "a '
                    f're-fit of the ML.ENERGY bench (test)" }}\n')
    sc = load_scenario(toml)
    got = np.asarray(sc.priors["bandwidth_efficiency"][(H100,)].dist.params["values"])
    np.testing.assert_allclose(got, 0.5 * fitprior.flat_draws(FIT, "bandwidth_efficiency/H100"))
    assert "bench_fit:sha256:test-refit" in sc.hashes
    assert sc.hash != load_scenario("serving").hash


def test_a_copula_on_a_fitted_quantity_is_refused(tmp_path):
    toml = tmp_path / "cop.toml"
    toml.write_text(f'[meta]\nschema = 1\nname = "cop"\nextends = "{scenario_path("serving")}"\n'
                    '[copula.eff]\ninputs = ["bandwidth_efficiency", "compute_efficiency"]\n'
                    'corr = [[1, 0.5], [0.5, 1]]\nsource = "test"\n')
    with pytest.raises(PriorsError, match="joint block 'bench/posterior'"):
        load_scenario(toml)


def test_draws_pick_one_column_entry_per_uniform_and_report_true_quantiles():
    d = dists.make("draws", {"values": [5.0, 1.0, 3.0, 2.0], "stream": "block"})
    np.testing.assert_array_equal(d.ppf(np.array([0.0, 0.26, 0.5, 0.99, 1.0])),
                                  [5.0, 1.0, 3.0, 2.0, 2.0])
    assert d.median() == 2.5 and d.support() == (1.0, 5.0)
    p = Prior("bandwidth_efficiency", (H100,), dists.make(
        "draws", {"values": [0.5, 0.6], "stream": "block"}), "1", "test source")
    assert p.stream == "block"
    with pytest.raises(dists.ParameterError, match="stream"):
        dists.make("draws", {"values": [1.0], "stream": ""})
    for bad, match in (([1.0, float("nan")], "entry 1 is not"), ([True, 1.0], "numbers only")):
        with pytest.raises(dists.ParameterError, match=match):
            dists.make("draws", {"values": bad, "stream": "block"})


def test_logitnormal_matches_scipy():
    d = dists.make("logitnormal", {"mu": 0.3, "sigma": 0.7})
    u = np.array([0.05, 0.5, 0.95])
    np.testing.assert_allclose(d.ppf(u), special.expit(stats.norm.ppf(u, 0.3, 0.7)), rtol=1e-12)


def test_a_listing_summarises_the_fits_draws(capsys):
    import json

    from mcfoot.cli import main

    assert main(["priors", "show", "serving", "--quantity", "bandwidth_efficiency",
                 "--json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)["priors"]}
    p = rows[H100]["parameters"]
    assert rows[H100]["dist"] == "draws" and "values" not in p
    assert p["draws"] == FIT.sizes["chain"] * FIT.sizes["draw"]
    assert p["stream"] == fitprior.POSTERIOR_STREAM and p["p5"] < p["median"] < p["p95"]
