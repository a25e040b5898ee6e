"""The sampler: kernel vs NumPy twin, seeds and streams, hand-computed footprints, layout."""

import copy

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import mcfoot
from mcfoot import InputError, footprint as fp, rng
from mcfoot import variables as V
from mcfoot.catalogue import shipped_path
from mcfoot.simulate import build_plan, draw_normals, evaluate, simulate

SOME = ["gpt-4o-mar", "claude-3-7-sonnet", "llama-3-1-8b", "gemini-2-5-pro-vertex",
        "deepseek-r1-deepseek-128k", "gpt-4", "grok-4"]  # gpt-4 has no long-prompt row


@pytest.mark.parametrize("scenario", ["paper", "default", "physical"])
def test_kernel_matches_numpy_twin(scenario):
    plan = build_plan(scenario, models=SOME)
    normals = draw_normals(plan, rng.normalize_seed(3), 0, 3000)
    ref, ref_vals = evaluate(plan, copy.deepcopy(normals), backend="numpy")
    got, got_vals = evaluate(plan, copy.deepcopy(normals), backend="numba")
    assert set(got) == set(ref) == {"latency", "speed", "energy_variants",
                                    *V.kernel_keys()}
    for k in ref:
        # bit for bit: same operations in the same order (NaN where a row is missing)
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
    assert np.isnan(got["energy"]).any()  # gpt-4 has no long row: it stays missing
    # the sampler's own path: each model's stream drawn once into its first present slot,
    # the kernel reading a model's normals (and computing Phi) once for all its rows
    shared = draw_normals(plan, rng.normalize_seed(3), 0, 3000, shared=True)
    src = shared.source
    assert src is not None and not np.array_equal(src, np.arange(plan.n_slots))
    heads = np.unique(src)
    np.testing.assert_array_equal(shared.latency[heads], normals.latency[heads])
    np.testing.assert_array_equal(shared.rows()[1], normals.speed)
    got, _ = evaluate(plan, shared, backend="numba")
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k], err_msg=f"shared normals: {k}")


def test_row_groups_put_each_source_first():
    from mcfoot._kernels import row_groups

    members, starts = row_groups(np.array([1, 1, 2, 1, 4, 4]), 6)
    groups = [members[a:b].tolist() for a, b in zip(starts, starts[1:])]
    assert groups == [[1, 0, 3], [2], [4, 5]]
    members, starts = row_groups(None, 3)
    assert members.tolist() == [0, 1, 2] and starts.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="its own source"):
        row_groups(np.array([1, 2, 2]), 3)  # row 1 reads row 2's normals but is a source


@pytest.mark.parametrize("scenario", ["paper", "default", "physical"])
def test_energy_boundaries_add_up_exactly_per_draw(scenario):
    f = simulate(scenario, draws=2000, seed=11, models=SOME)["footprint"]
    parts = f["energy_accelerator_wh"] + f["energy_host_wh"] + f["energy_idle_wh"]
    ok = ~np.isnan(f["energy_wh"])
    assert int(ok.sum()) > 0
    # exact, not approximately: IT is the sum of the three, facility is IT x PUE
    assert bool((f["energy_it_wh"] == parts).where(ok, True).all())
    assert bool((f["energy_wh"] == f["energy_it_wh"] * f["pue"]).where(ok, True).all())
    assert bool((f["water_site_ml"] == f["energy_it_wh"] * f["wue_site_l_per_kwh"])
                .where(ok, True).all())
    for v in ("energy_accelerator_wh", "energy_host_wh", "energy_idle_wh"):
        assert f[v].attrs["units"] == "Wh"
        assert bool((f[v] >= 0).where(ok, True).all())
    idle = f["energy_idle_wh"].where(ok)
    if scenario == "paper":  # the study counts no idle capacity
        assert float(abs(idle).max()) == 0.0
    else:
        assert float(idle.min()) > 0


def test_same_seed_same_numbers_and_seed_kinds():
    a = simulate("default", draws=500, seed=7, models=SOME[:3])
    b = simulate("default", draws=500, seed=np.random.SeedSequence(7), models=SOME[:3])
    xr.testing.assert_identical(a["footprint"].to_dataset(), b["footprint"].to_dataset())
    xr.testing.assert_identical(a["inputs"].to_dataset(), b["inputs"].to_dataset())
    c = simulate("default", draws=500, seed=8, models=SOME[:3])
    assert not np.allclose(a["footprint"]["energy_wh"], c["footprint"]["energy_wh"])
    g = simulate("default", draws=50, seed=np.random.default_rng(1), models=SOME[:1])
    n = simulate("default", draws=50, seed=None, models=SOME[:1])
    for t in (g, n):
        ss = np.random.SeedSequence(int(t.attrs["seed_entropy"]))
        assert t.attrs["seed"].startswith(str(ss.entropy))
    with pytest.raises(TypeError):
        rng.normalize_seed(1.5)
    with pytest.raises(ValueError):
        rng.normalize_seed(-1)


def test_chunking_and_threads_do_not_change_numbers():
    whole = simulate("default", draws=1000, seed=2, models=SOME[:3])
    for kw in ({"chunk_draws": 7}, {"chunk_draws": 333, "threads": 2}, {"backend": "numpy"}):
        part = simulate("default", draws=1000, seed=2, models=SOME[:3], progress=False, **kw)
        for v in ("energy_wh", "water_ml", "carbon_g"):
            np.testing.assert_allclose(part["footprint"][v], whole["footprint"][v],
                                       rtol=1e-12, err_msg=str(kw))
        if "backend" not in kw:
            xr.testing.assert_identical(part["footprint"].to_dataset(),
                                        whole["footprint"].to_dataset())


def test_streams_are_block_independent():
    ss = rng.normalize_seed(0)
    full = rng.standard_normals(ss, "pue/Azure", 0, rng.BLOCK + 100)
    parts = np.concatenate([rng.standard_normals(ss, "pue/Azure", 0, 5),
                            rng.standard_normals(ss, "pue/Azure", 5, rng.BLOCK + 3),
                            rng.standard_normals(ss, "pue/Azure", rng.BLOCK + 3,
                                                 rng.BLOCK + 100)])
    assert np.array_equal(full, parts)


def test_streams_follow_the_documented_layout_whatever_the_threads():
    """Draw i of stream `name` is draw i % BLOCK of PCG64(SeedSequence(entropy, spawn_key=
    (crc32(name), i // BLOCK))) (README, reproducibility contract), for every thread count
    and with rows filled in place in any order."""
    import zlib

    ss = rng.normalize_seed(17)
    names = ["latency/3", "speed/3", "pue/Azure", "cif/AWS"]
    start, stop = rng.BLOCK - 7, 2 * rng.BLOCK + 11  # three blocks, partial at both ends

    def direct(name):
        blocks = [np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            ss.entropy, spawn_key=(zlib.crc32(name.encode()), b)))).standard_normal(rng.BLOCK)
            for b in range(3)]
        return np.concatenate(blocks)[start:stop]

    want = np.stack([direct(n) for n in names])
    for threads in (1, 2, 5):
        got = rng.standard_normals_many(ss, names, start, stop, threads=threads)
        assert np.array_equal(got, want)
        out = np.zeros((6, stop - start))
        rng.standard_normals_many(ss, names, start, stop, out=out, threads=threads,
                                  rows=[5, 0, 3, 1])
        assert np.array_equal(out[[5, 0, 3, 1]], want) and not out[[2, 4]].any()


def test_adding_a_prior_leaves_the_others_draws_unchanged(tmp_path):
    child = tmp_path / "more.toml"
    child.write_text('[meta]\nschema = 1\nname = "more"\nextends = "paper"\n\n'
                     '[pue.Azure]\ndist = "uniform"\nlow = 1.1\nhigh = 1.3\nunit = "1"\n'
                     'source = "test"\n\n'
                     '[cif.AWS]\ndist = "uniform"\nlow = 0.2\nhigh = 0.4\n'
                     'unit = "kg CO2e/kWh"\nsource = "test"\n')
    base = simulate("paper", draws=400, seed=5, models=SOME)["inputs"]
    more = simulate(child, draws=400, seed=5, models=SOME)["inputs"]
    for v in ("latency_s", "speed_tokens_per_s"):
        xr.testing.assert_identical(base[v], more[v])
    assert more["pue"].sel(host="Azure").std() > 0
    # and in default: changing one prior's distribution leaves every other draw unchanged
    child2 = tmp_path / "one.toml"
    child2.write_text('[meta]\nschema = 1\nname = "one"\nextends = "default"\n\n'
                      '[cif.AWS]\ndist = "uniform"\nlow = 0.2\nhigh = 0.4\n'
                      'unit = "kg CO2e/kWh"\nsource = "test"\n')
    d0 = simulate("default", draws=400, seed=5, models=SOME)["inputs"]
    d1 = simulate(child2, draws=400, seed=5, models=SOME)["inputs"]
    for v in d0.data_vars:
        if v == "cif":
            xr.testing.assert_equal(d0[v].drop_sel(host="AWS"), d1[v].drop_sel(host="AWS"))
        else:
            xr.testing.assert_identical(d0[v], d1[v])


def test_footprint_equations_by_hand():
    # 0.5 s to first chunk, 300 tokens at 100 tokens/s: 3.5 s of node time
    hours = fp.query_hours(0.5, 300, 100.0)
    assert hours == pytest.approx(3.5 / 3600)
    power = fp.attributed_power_kw(5.6, 0.055, 4.6, 0.0625)  # DGX H100, large, u_gpu min
    assert power == pytest.approx(0.308 + 0.2875)
    it = fp.it_energy_wh(hours, power)
    assert it == pytest.approx(1000 * 3.5 / 3600 * 0.5955)
    e = fp.facility_energy_wh(it, 1.12)
    assert e == pytest.approx(0.5789583 * 1.12, rel=1e-6)
    assert fp.carbon_g(e, 0.34) == pytest.approx(e * 0.34)
    assert fp.water_site_ml(it, 0.3) == pytest.approx(it * 0.3)
    assert fp.water_source_ml(e, 4.35) == pytest.approx(e * 4.35)
    ug, un = fp.physical_shares(8, 8, 8, 0.5, 0.5)
    assert (ug, un) == (0.0625, 0.0625)


def test_simulate_by_hand_on_a_degenerate_catalogue(tmp_path):
    """All quantiles equal -> no randomness: the energy is the study's equation exactly."""
    df = pd.read_csv(shipped_path())
    row = df[(df.model_id == "gpt-4o-mar") & (df.prompt == "short")].copy()
    for p in ("p05", "p25", "p50", "p75", "p95"):
        row[f"first_chunk_s_{p}"] = 0.5
        row[f"tokens_per_s_{p}"] = 100.0
    path = tmp_path / "one.csv"
    row.to_csv(path, index=False)
    t = simulate("paper", draws=10, seed=0, catalogue=path)["footprint"]
    hw, host = row.iloc[0].hardware, row.iloc[0].host
    assert (hw, host, row.iloc[0].size_class) == ("DGX H200/H100", "Azure", "large")
    hours = (0.5 + 300 / 100.0) / 3600
    e_min = 1000 * hours * (5.6 * 0.055 + 4.6 * 0.0625) * 1.12
    e_max = 1000 * hours * (5.6 * 0.075 + 4.6 * 0.0625) * 1.12
    e = (e_min + e_max) / 2
    cell = t.sel(model="gpt-4o-mar", prompt="short")
    np.testing.assert_allclose(cell["energy_min_wh"], e_min, rtol=1e-13)
    np.testing.assert_allclose(cell["energy_max_wh"], e_max, rtol=1e-13)
    np.testing.assert_allclose(cell["energy_wh"], e, rtol=1e-13)
    np.testing.assert_allclose(cell["carbon_g"], e * 0.34, rtol=1e-13)
    np.testing.assert_allclose(cell["water_site_ml"], e / 1.12 * 0.3, rtol=1e-13)
    np.testing.assert_allclose(cell["water_source_ml"], e * 4.35, rtol=1e-13)
    np.testing.assert_allclose(cell["water_ml"], e / 1.12 * 0.3 + e * 4.35, rtol=1e-13)
    acc = 1000 * hours * 5.6 * (0.055 + 0.075) / 2
    host = 1000 * hours * 4.6 * 0.0625
    np.testing.assert_allclose(cell["energy_accelerator_wh"], acc, rtol=1e-13)
    np.testing.assert_allclose(cell["energy_host_wh"], host, rtol=1e-13)
    np.testing.assert_allclose(cell["energy_it_wh"], acc + host, rtol=1e-13)
    assert float(cell["energy_idle_wh"].max()) == 0.0


positive = st.floats(0.01, 1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(lat=positive, spd=positive, t1=st.integers(0, 5000), t2=st.integers(0, 5000),
       p=positive, pue=st.floats(1.0, 3.0), wue=st.floats(0, 10), cif=st.floats(0, 2))
def test_footprints_non_negative_and_monotone_in_tokens(lat, spd, t1, t2, p, pue, wue, cif):
    lo, hi = sorted((t1, t2))
    es = [fp.facility_energy_wh(fp.it_energy_wh(fp.query_hours(lat, t, spd), p), pue)
          for t in (lo, hi)]
    assert 0 <= es[0] <= es[1]
    for e in es:
        assert fp.carbon_g(e, cif) >= 0 and fp.water_source_ml(e, wue) >= 0


def test_layout_units_and_provenance():
    t = simulate("paper", draws=200, seed=0, models=SOME)
    f = t["footprint"]
    assert f["energy_wh"].dims == ("draw", "model", "prompt")
    for name in ("energy_wh", "carbon_g", "water_site_ml", "water_source_ml", "water_ml",
                 "energy_min_wh", "energy_max_wh", "pue", "cif_kg_per_kwh"):
        assert f[name].attrs["units"], name
    for name, var in t["inputs"].data_vars.items():
        assert "units" in var.attrs, name
    assert bool(np.isnan(f["energy_wh"].sel(model="gpt-4", prompt="long")).all())
    assert not bool(np.isnan(f["energy_wh"].sel(model="gpt-4", prompt="short")).any())
    for key in ("seed", "scenario", "scenario_hash", "catalogue_hash", "mcfoot_version",
                "created", "draws"):
        assert key in t.attrs
    assert t.attrs["mcfoot_version"] == mcfoot.__version__
    d = simulate("default", draws=200, seed=0, models=SOME)["footprint"]
    assert "energy_min_wh" not in d


def test_host_draws_are_shared_by_models_on_that_host():
    f = simulate("default", draws=300, seed=1)["footprint"]
    azure = f["pue"].where(f.host == "Azure", drop=True)
    assert azure.sizes["model"] > 10
    assert float(azure.std("draw").min()) > 0
    assert bool((azure == azure.isel(model=0)).all())


def test_bad_arguments():
    with pytest.raises(InputError, match="unknown model"):
        simulate("paper", draws=10, models=["gpt-9"])
    with pytest.raises(InputError, match="unknown prompt"):
        simulate("paper", draws=10, prompts=["huge"])
    with pytest.raises(InputError, match="draws must be a positive integer"):
        simulate("paper", draws=0)
    with pytest.raises(InputError, match="backend"):
        simulate("paper", draws=10, models=SOME[:1], backend="cuda")


# ---- outputs only when asked (issue 17) -----------------------------------------------------
@pytest.mark.parametrize("scenario, variables", [
    ("paper", ["energy_wh"]), ("paper", ["water_ml", "energy_min_wh"]),
    ("default", "carbon_embodied_g"), ("serving", ["energy_it_wh", "carbon_market_g"])])
def test_requested_variables_equal_the_full_run(scenario, variables):
    """simulate(variables=...) writes only the requested footprints, with the same values
    as the full run, and holds nothing else per (model, prompt)."""
    from mcfoot import variables as V

    full = mcfoot.simulate(scenario, 600, seed=3, progress=False)
    part = mcfoot.simulate(scenario, 600, seed=3, progress=False, variables=variables,
                           chunk_draws=250)
    want = set([variables] if isinstance(variables, str) else variables)
    if want & set(V.BAND):
        want |= set(V.BAND)  # the band's two bounds are one kernel output
    per_query = {v for v in part["footprint"].data_vars if "prompt" in part["footprint"][v].dims}
    assert per_query == want
    for v in want:
        np.testing.assert_array_equal(part["footprint"][v].values, full["footprint"][v].values)
    for v in full["inputs"].data_vars:
        np.testing.assert_array_equal(part["inputs"][v].values, full["inputs"][v].values)


def test_unknown_requested_variable_is_named():
    with pytest.raises(InputError, match=r"unknown footprint variable\(s\) energy_max_wh; known"):
        mcfoot.simulate("default", 10, variables=["energy_max_wh"])  # no band in default
    with pytest.raises(InputError, match=r"\(none given\)"):
        mcfoot.simulate("default", 10, variables=[])


def test_kernel_outputs_cover_the_registry():
    from mcfoot import _kernels, variables as V

    assert set(_kernels._OUTPUT_KEYS) == set(V.kernel_keys())


def test_staggered_arrays_start_on_distinct_cache_lines():
    from mcfoot._resources import CACHE_LINE, L1_SET_SPAN, staggered_empty

    arrays = [staggered_empty((3, 50_000), i) for i in range(15)]
    assert all(a.shape == (3, 50_000) and a.dtype == np.float64 and a.flags.c_contiguous
               for a in arrays)
    starts = [a.ctypes.data % L1_SET_SPAN for a in arrays]
    assert starts == [i * CACHE_LINE for i in range(15)]  # line-aligned, one L1 set each
    assert staggered_empty(4, 2).shape == (4,)


def test_kernel_block_does_not_change_numbers(monkeypatch):
    from mcfoot import _kernels

    plan = build_plan("paper", models=SOME)
    normals = draw_normals(plan, rng.normalize_seed(5), 0, 2500, shared=True)
    ref, _ = evaluate(plan, copy.deepcopy(normals))
    monkeypatch.setattr(_kernels, "PHI_BLOCK", 7)  # blocks that end mid-way and a short tail
    got, _ = evaluate(plan, copy.deepcopy(normals))
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
