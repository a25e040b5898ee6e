"""The serving attribution: physics against hand computation, kernel vs twin, coupling of
batch and stream speed, priors' units and sources, bad input."""

import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special

import mcfoot
import mcfoot.benchpredict
from mcfoot import PriorsError, fitprior, footprint as fp, rng, variables as V
from mcfoot.priors import QUANTITIES, load_scenario, scenario_path
from mcfoot.simulate import build_plan, draw_normals, evaluate, simulate

#: One model per hardware class the scenario can put it on (by its hardware choice):
#: H100/H200 (Llama 3.1 8B, dense), A100/H100/H200 (GPT-4, closed), H800 (DeepSeek-V3 on
#: DeepSeek's API, MoE), TPU v6e (Gemini 2.5 Flash, closed).
PER_CLASS = ["llama-3-1-8b", "gpt-4", "deepseek-v3-deepseek", "gemini-2-5-flash-vertex"]
LLAMA70 = ["llama-3-1-70b-standard", "llama-3-1-70b-latency-optimized"]


@pytest.fixture(scope="module")
def run():
    return simulate("serving", draws=400, seed=5, models=PER_CLASS + LLAMA70)


def test_kernel_matches_numpy_twin_bit_for_bit():
    plan = build_plan("serving", models=PER_CLASS + ["llama-4-maverick", "gpt-4o-mini"])
    normals = draw_normals(plan, rng.normalize_seed(3), 0, 2000)
    ref, _ = evaluate(plan, copy.deepcopy(normals), backend="numpy")
    got, _ = evaluate(plan, copy.deepcopy(normals), backend="numba")
    assert set(got) == set(ref) == {"latency", "speed", "energy_variants", "batch",
                                    *V.kernel_keys()}
    assert float(np.nanmin(got["carbon_embodied"])) > 0
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
    assert np.isnan(got["energy"]).any()  # gpt-4 has no long row: it stays missing


def _hand(inp, d, model, prompt, t_in, t_out):
    """The documented equations (footprint.py comment block), written out with scalars."""
    g = lambda q: float(inp[q].sel(draw=d, model=model))  # noqa: E731
    hw = str(inp.hardware.values[int(inp["hardware_index"].sel(draw=d, model=model))])
    h = lambda q: float(inp[q].sel(draw=d, hardware=hw))  # noqa: E731
    na, ratio, q, kv = g("active_params"), g("moe_total_ratio"), g("bytes_per_param"), \
        g("kv_cache_per_token")
    sig, par = g("spec_tokens_per_step"), g("parallelism_factor")
    w_total = na * ratio * 1e9 * q
    usable = h("accelerator_memory") * 1e9 * h("memory_utilization")
    n = 2 ** math.ceil(math.log2(max(w_total / (usable * h("weight_memory_share")), 1))) * par
    bw = n * h("memory_bandwidth") * 1e12 * h("bandwidth_efficiency")
    flops = n * h("peak_flops") * 1e12 * (2 / q) * h("compute_efficiency")
    b = sig * 2 * na * 1e9 / flops + kv * 1e3 * (t_in + t_out / 2) / bw
    unused = 1 - 1 / ratio

    def step(batch):
        return w_total / bw * (1 - unused ** batch) + batch * b

    running = max(h("max_batch") * h("batch_occupancy"), 1.0)  # production's running batch
    cap = min(running, (n * usable - w_total) / (kv * 1e3) / (t_in + t_out))
    cap = max(cap, 1.0)
    target = sig / float(inp["speed_tokens_per_s"].sel(draw=d, model=model, prompt=prompt))
    if step(1.0) >= target:
        batch = 1.0
    elif step(cap) <= target:
        batch = cap
    else:
        batch = optimize.brentq(lambda x: step(x) - target, 1.0, cap, xtol=1e-13, rtol=1e-14)
    w_read = w_total / bw * (1 - unused ** batch)
    w_read += max(0.0, target - step(batch))  # at the cap the measured step is the longer one
    # the bench fit's discrepancy for a model it never measured, on the accelerator's power
    tdp = h("accelerator_tdp") * math.exp(g("model_effect_scale") * g("model_effect") +
                                          g("residual_scale") * g("config_residual"))
    prefill_s = t_in * 2 * na * 1e9 / flops
    acc_j = (t_out / sig * n * tdp * (h("power_fraction_memory_bound") * w_read / batch
                                      + h("power_fraction_compute_bound") * b)
             + prefill_s * n * tdp * h("power_fraction_compute_bound"))
    t_eff = max(step(batch), target)
    host_j = n * h("host_power_per_accelerator") * (t_out / sig * t_eff / batch + prefill_s)
    acc, host = acc_j / 3600, host_j / 3600
    per_node = h("gpus_per_node")
    node_g = (per_node * h("embodied_accelerator") + h("embodied_node")) * 1000
    g_per_acc_h = node_g / per_node / (h("hardware_lifetime") * 8766 * h("fleet_utilisation"))
    embodied = (t_out / sig * t_eff / batch + prefill_s) / 3600 * n * g_per_acc_h
    return hw, batch, acc, host, (acc + host) * h("idle_fraction"), embodied


@pytest.mark.parametrize("model", PER_CLASS)
def test_decomposition_matches_hand_computation(run, model):
    f, inp, cat = run["footprint"], run["inputs"], run["catalogue"]
    seen = set()
    for d in range(0, 400, 7):
        for prompt in ("short", "long"):
            if not bool(cat.present.sel(model=model, prompt=prompt)):
                continue
            t_in = float(cat.input_tokens.sel(model=model, prompt=prompt))
            t_out = float(cat.output_tokens.sel(model=model, prompt=prompt))
            hw, batch, acc, host, idle, embodied = _hand(inp, d, model, prompt, t_in, t_out)
            seen.add(hw)
            at = dict(draw=d, model=model, prompt=prompt)
            np.testing.assert_allclose(float(inp["batch"].sel(**at)), batch, rtol=1e-9)
            for var, want in (("energy_accelerator_wh", acc), ("energy_host_wh", host),
                              ("energy_idle_wh", idle), ("carbon_embodied_g", embodied)):
                np.testing.assert_allclose(float(f[var].sel(**at)), want, rtol=1e-9,
                                           err_msg=f"{model} {prompt} draw {d} {var} on {hw}")
            it = acc + host + idle
            np.testing.assert_allclose(float(f["energy_wh"].sel(**at)),
                                       it * float(f["pue"].sel(draw=d, model=model)), rtol=1e-9)
    assert seen  # the model was served on at least one accelerator class in these draws


def test_every_model_runs_and_the_hardware_choice_is_used():
    t = simulate("serving", draws=300, seed=1)
    f, inp, cat = t["footprint"], t["inputs"], t["catalogue"]
    present = cat.present
    assert int(present.sum()) == 194
    e = f["energy_wh"].where(present)
    assert bool((e > 0).where(present, True).all()) and not bool(e.isnull().where(present,
                                                                                  False).any())
    parts = f["energy_accelerator_wh"] + f["energy_host_wh"] + f["energy_idle_wh"]
    assert bool((f["energy_it_wh"] == parts).where(present, True).all())
    # the A100 guess is a prior: gpt-4o-mini is served on each of its three classes
    hw = inp.hardware.values[inp["hardware_index"].sel(model="gpt-4o-mini").values]
    assert set(hw) == {"DGX A100", "H100 SXM", "H200 SXM"}
    batch = inp["batch"].where(present)
    assert float(batch.min()) >= 1.0
    assert float(batch.max()) <= float(inp["max_batch"].max())


def test_long_prompts_force_smaller_batches(run):
    b = run["inputs"]["batch"].sel(model="llama-3-1-70b-standard")
    assert float(b.sel(prompt="long").median()) < float(b.sel(prompt="short").median())


def test_two_llama_70b_rows_differ_less_than_their_speeds():
    """The study's energy scales with 1 / stream speed; serving divides the instance among
    the batch the speed implies, so the same model on the same host differs far less."""
    paper = simulate("paper", draws=2000, seed=0, models=LLAMA70, prompts=["short"])
    serving = simulate("serving", draws=2000, seed=0, models=LLAMA70, prompts=["short"])
    r = {}
    for name, t in (("paper", paper), ("serving", serving)):
        m = t["footprint"]["energy_wh"].median("draw").sel(prompt="short")
        r[name] = abs(math.log(float(m.sel(model=LLAMA70[0]) / m.sel(model=LLAMA70[1]))))
    assert r["paper"] > math.log(4)  # the study: standard ~5x latency-optimized
    assert r["serving"] < r["paper"]


_POS = dict(allow_nan=False, allow_infinity=False)


@st.composite
def serving_params(draw):
    """Serving parameters anywhere in the ranges the shipped priors allow."""
    return fp.serving_parameters(
        active_params=draw(st.floats(0.5, 400, **_POS)),
        moe_total_ratio=draw(st.one_of(st.just(1.0), st.floats(1.01, 25, **_POS))),
        bytes_per_param=draw(st.sampled_from([1.0, 2.0])),
        kv_cache_kb=draw(st.floats(20, 800, **_POS)),
        spec_tokens=draw(st.floats(1, 3, **_POS)),
        tdp_w=draw(st.floats(150, 700, **_POS)), memory_gb=draw(st.sampled_from([32, 80, 141])),
        bandwidth_tb_s=draw(st.floats(1.6, 4.8, **_POS)),
        peak_tflops=draw(st.floats(312, 990, **_POS)),
        bandwidth_efficiency=draw(st.floats(0.35, 0.9, **_POS)),
        compute_efficiency=draw(st.floats(0.2, 0.7, **_POS)),
        power_low=draw(st.floats(0.15, 0.55, **_POS)),
        power_high=draw(st.floats(0.6, 1.0, **_POS)),
        host_power_w=draw(st.floats(50, 440, **_POS)),
        memory_utilization=draw(st.floats(0.85, 0.95, **_POS)),
        weight_memory_share=draw(st.floats(0.4, 0.8, **_POS)),
        max_batch=draw(st.sampled_from([64, 256, 2048])), idle_fraction=0.1,
        parallelism=draw(st.sampled_from([1, 2, 4, 8, 16])))


@settings(max_examples=200, deadline=None)
@given(p=serving_params(), b1=st.floats(1, 2048, **_POS), b2=st.floats(1, 2048, **_POS),
       ctx=st.floats(100, 12_000, **_POS))
def test_energy_per_output_token_does_not_rise_with_batch(p, b1, b2, ctx):
    lo, hi = sorted((b1, b2))
    e_lo = float(fp.decode_energy_per_token_j(lo, ctx, p))
    e_hi = float(fp.decode_energy_per_token_j(hi, ctx, p))
    assert e_hi <= e_lo * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(p=serving_params(), s1=st.floats(1, 1000, **_POS), s2=st.floats(1, 1000, **_POS),
       t_in=st.sampled_from([100.0, 1000.0, 10_000.0]),
       t_out=st.sampled_from([300.0, 1000.0, 1500.0]))
def test_a_slower_stream_is_a_larger_batch_and_never_costs_more(p, s1, s2, t_in, t_out):
    """With everything else held, a slower measured stream implies a batch at least as large
    and, while the batch is below its cap, an accelerator and host energy per query no higher
    (the coupling in the docstring). At the cap the batch cannot grow and the instance is
    busy for the measured time, so energy follows 1 / speed there, as in the study."""
    slow, fast = sorted((s1, s2))
    a_s, h_s, _, b_s, _ = fp.serving_query_energy(np.array(slow), t_in, t_out, p)
    a_f, h_f, _, b_f, _ = fp.serving_query_energy(np.array(fast), t_in, t_out, p)
    assert float(b_s) >= float(b_f) * (1 - 1e-9)
    cap = min(float(p["max_batch"]), float(p["kv_capacity_tokens"]) / (t_in + t_out))
    if float(b_s) < max(cap, 1.0) * (1 - 1e-9):
        assert float(a_s) <= float(a_f) * (1 + 1e-9)
        assert float(h_s) <= float(h_f) * (1 + 1e-9)
    elif float(b_f) >= max(cap, 1.0) * (1 - 1e-9):  # both at the cap: energy follows the
        assert float(a_s) >= float(a_f) * (1 - 1e-9)  # measured time, as in the study


def test_power_rises_with_batch_between_the_two_fractions():
    p = fp.serving_parameters(8.03, 1.0, 2.0, 131.1, 1.0, 700, 80, 3.35, 989.4, 0.65, 0.45,
                              0.43, 0.86, 250, 0.9, 0.6, 256, 0.1, accelerators=1)
    b = p["seq_compute_s"] + p["seq_kv_s_per_token"] * 500
    frac = []
    for batch in (1.0, 8.0, 64.0, 128.0, 1024.0):
        t_w = p["weight_read_s"]
        frac.append(float((0.43 * t_w + 0.86 * batch * b) / (t_w + batch * b)))
    assert frac == sorted(frac) and 0.43 < frac[0] < frac[-1] < 0.86


def test_a_lab_configuration_is_predicted_by_the_bench_predictor_with_the_same_fit_draw():
    """One way to predict a lab configuration: ``mcfoot.bench`` (the learned physics). It
    decreases in batch, and with the same seed it reads the same posterior draw of the fit
    as a `serving` run does for the H100's fitted hardware physics (stream bench/posterior)."""
    cfg = pd.DataFrame([{"model_id": "lab/8b", "architecture": "Dense Transformer",
                         "total_params_billions": 8.03, "activated_params_billions": 8.03,
                         "weight_precision": "bfloat16", "gpu_model": "H100", "num_gpus": 1,
                         "max_num_seqs": b, "task": "lm-arena-chat", "avg_output_len": 400.0}
                        for b in (8, 64)])
    ds = mcfoot.bench(cfg, draws=500, seed=3)
    e = ds["energy_per_token_j"]
    assert e.attrs["units"] == "J/token" and float(e.std()) > 0
    assert float(e.isel(config=1).median()) < float(e.isel(config=0).median())
    run = mcfoot.simulate("serving", draws=500, seed=3, models=["llama-3-1-8b"],
                          prompts=["short"])
    bw = run["inputs"]["bandwidth_efficiency"].sel(hardware="H100 SXM").values
    fit = mcfoot.benchpredict.load_fit("bench")
    draws = fitprior.flat_draws(fit, "bandwidth_efficiency/H100")
    z = rng.standard_normals(rng.normalize_seed(3), fitprior.POSTERIOR_STREAM, 0, 500)
    pick = np.minimum((special.ndtr(z) * len(draws)).astype(np.int64), len(draws) - 1)
    np.testing.assert_array_equal(bw, draws[pick])


def test_every_prior_has_a_unit_and_a_source():
    sc = load_scenario("serving")
    assert sc.attribution == "serving"
    for q, table in sc.priors.items():
        for key, prior in table.items():
            assert prior.unit == QUANTITIES[q].unit, (q, key)
            assert len(prior.source.strip()) > 10, (q, key)
    # and in the file itself: every entry written there names its unit and source
    doc = tomllib.loads(Path(scenario_path("serving")).read_text())
    n = 0
    for name, table in doc.items():
        if name in ("meta", "copula"):
            continue
        for key, entry in table.items():
            assert {"unit", "source"} <= set(entry), (name, key)
            n += 1
    assert n > 150


@pytest.mark.parametrize("bad, match", [
    ('[active_params]\nllama-3-1-8bb = { dist = "fixed", value = 8, unit = "Gparameter", '
     'source = "typo" }', "names no model id"),
    ('[hardware_choice]\ngpt-4 = { dist = "discrete", values = [0, 1], weights = [1, 1], '
     'unit = "1", source = "x" }', "classes"),
    ('[hardware_choice]\ngpt-4 = { dist = "discrete", values = [0, 2], weights = [1, 1], '
     'classes = ["H100 SXM", "H200 SXM"], unit = "1", source = "x" }', "values must be"),
    ('[hardware_choice]\ngpt-4 = { dist = "discrete", values = [0, 1], weights = [1, 1], '
     'classes = ["H100 SXM", "B200"], unit = "1", source = "x" }', "B200"),
    ('[bandwidth_efficiency]\n"H100 SXM" = { dist = "bench_fit", parameter = "bandwidth/H100", '
     'unit = "1", source = "x" }', 'H100 SXM"\\] dist = "bench_fit" needs parameter = one of'),
    ('[bandwidth_efficiency]\n"H100 SXM" = { dist = "bench_fit", parameter = '
     '"bandwidth_efficiency/H100", width = 2, unit = "1", source = "x" }', "does not take width"),
    ('[bandwidth_efficiency]\n"H100 SXM" = { dist = "bench_fit", parameter = '
     '"bandwidth_efficiency/H100", fit = "/nonexistent.nc", unit = "1", source = "x" }',
     "no bench fit at /nonexistent.nc"),
    ('[bandwidth_efficiency]\n"H100 SXM" = { dist = ["bench_fit"], unit = "1", source = "x" }',
     "unknown distribution"),
])
def test_bad_serving_entries_are_one_clear_error(tmp_path, bad, match):
    path = tmp_path / "bad.toml"
    path.write_text('[meta]\nschema = 1\nname = "bad"\nattribution = "serving"\n'
                    f'extends = "serving"\n\n{bad}\n')
    with pytest.raises(PriorsError, match=match) as e:
        build_plan(path)
    assert "bad.toml" in str(e.value)


def test_sobol_of_log_energy_apportions_the_serving_spread():
    from mcfoot import sensitivity as sens

    s = sens.sobol("serving", models=["claude-3-7-sonnet"], prompts=["short"], n=64,
                   num_resamples=10, log=True)
    assert s.attrs["variable"] == "log(energy_wh)"
    st = s["ST"].sel(model="claude-3-7-sonnet", prompt="short").to_pandas()
    assert st.idxmax() in ("active_params", "moe_total_ratio", "spec_tokens_per_step",
                           "weight_memory_share", "parallelism_factor", "bytes_per_param")
    assert float(st.drop(["pue", "wue_site", "wue_source", "cif"]).max()) > 0.1
    assert float(st.loc[["wue_site", "wue_source", "cif"]].abs().max()) < 1e-12
    # the bench fit's joint posterior is one factor, under its stream's name
    assert "bench/posterior" in st.index and "model_effect_scale" not in st.index
    assert str(s.input_units.sel(input="bench/posterior").values) == "(joint block)"
