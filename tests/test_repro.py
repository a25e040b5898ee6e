"""The reproducibility contract: same seed + inputs -> the same numbers, bit for bit, for any
chunk size, thread count, dask scheduler/worker count and backend; streaming reductions
within their documented bounds."""

import math

import numba
import numpy as np
import pytest
import xarray as xr

import mcfoot
from mcfoot import footprint as fp
from mcfoot import rng, stream
from mcfoot.simulate import build_plan, design_columns, evaluate, normals_from_design, simulate_range

MODELS = ["gpt-4o-mar", "o3", "claude-3-7-sonnet", "gpt-4"]  # gpt-4 lacks two prompts
DRAWS = 1500


def assert_same(a: xr.DataTree, b: xr.DataTree):
    for g in ("footprint", "inputs"):
        assert set(a[g].data_vars) == set(b[g].data_vars)
        for v in a[g].data_vars:
            x, y = a[g][v].values, b[g][v].values
            assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), f"{g}/{v}"
    for k in ("seed", "scenario_hash", "catalogue_hash", "rng", "mcfoot_version"):
        assert a.attrs[k] == b.attrs[k]


@pytest.fixture(scope="module", params=["paper", "default"])
def base(request):
    return request.param, mcfoot.simulate(request.param, DRAWS, seed=11, models=MODELS)


@pytest.mark.parametrize("chunk", [7, 1000, DRAWS])
def test_chunk_size_does_not_change_results(base, chunk):
    scenario, ref = base
    got = mcfoot.simulate(scenario, DRAWS, seed=11, models=MODELS, chunk_draws=chunk,
                          progress=False)
    assert_same(ref, got)


def test_threads_do_not_change_results(base):
    scenario, ref = base
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = mcfoot.simulate(scenario, DRAWS, seed=11, models=MODELS, threads=1)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = mcfoot.simulate(scenario, DRAWS, seed=11, models=MODELS, threads=2)
    finally:
        numba.set_num_threads(before)
    assert_same(ref, one)
    assert_same(ref, two)


def test_numpy_backend_is_bit_identical(base):
    scenario, ref = base
    assert_same(ref, mcfoot.simulate(scenario, DRAWS, seed=11, models=MODELS, backend="numpy"))


def test_backends_identical_on_quantile_knots():
    """A design point at u = 0.5 maps to z = 0 and back to u = 0.5 exactly: the kernel's
    interpolation must return the knot value there, as numpy.interp does."""
    plan = build_plan("paper", None, MODELS)
    cols = design_columns(plan)
    design = np.full((3, len(cols)), 0.5)
    design[1] = 0.05
    design[2] = 0.95
    res = [evaluate(plan, normals_from_design(plan, design), b)[0] for b in ("numba", "numpy")]
    for k in ("latency", "speed", "energy", "water", "carbon"):
        assert np.array_equal(res[0][k], res[1][k], equal_nan=True), k
    present = plan.present
    assert np.array_equal(res[0]["latency"][present, 0], plan.lat_q[present, 2])


def test_normal_cdf_twin_matches_libm_erfc(rng_):
    y = rng_.standard_normal(10_000) * 4
    want = np.array([0.5 * math.erfc(-v * (1.0 / math.sqrt(2.0))) for v in y])
    assert np.array_equal(fp.normal_cdf(y), want)


@pytest.fixture
def rng_():
    return np.random.default_rng(20250509)


def test_draw_normals_are_chunk_independent():
    ss = rng.normalize_seed(3)
    whole = rng.standard_normals(ss, "pue/Azure", 0, 3 * rng.BLOCK // 2)
    parts = [rng.standard_normals(ss, "pue/Azure", s, min(s + 9973, len(whole)))
             for s in range(0, len(whole), 9973)]
    assert np.array_equal(whole, np.concatenate(parts))
    many = rng.standard_normals_many(ss, ["a", "b", "c"], 100, 70_000, threads=3)
    assert np.array_equal(many[1], rng.standard_normals(ss, "b", 100, 70_000))


def test_simulate_range_is_a_slice(base):
    scenario, ref = base
    plan = build_plan(scenario, None, MODELS)
    part = simulate_range(plan, 11, 333, 777)
    assert part["footprint"].draw.values.tolist() == list(range(333, 777))
    assert_same(ref.isel(draw=slice(333, 777)), part)


def test_results_record_provenance(base):
    _, ref = base
    a = ref.attrs
    assert a["seed"] == "11" and a["scenario_hash"].startswith("sha256:")
    assert a["catalogue_hash"].startswith("sha256:") and str(rng.BLOCK) in a["rng"]
    assert a["mcfoot_version"] == mcfoot.__version__


# ---- dask ----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=[False, True], ids=["threads", "processes"])
def cluster_client(request):
    pytest.importorskip("distributed")
    from mcfoot.distributed import client

    with client(workers=2, processes=request.param) as c:
        yield c


def test_dask_lazy_tree_in_process(base):
    from mcfoot.distributed import simulate_dask

    scenario, ref = base
    lazy = simulate_dask(scenario, DRAWS, seed=11, models=MODELS, chunk_draws=400)
    assert lazy["footprint"]["energy_wh"].chunks[0] == (400, 400, 400, 300)
    import dask

    with dask.config.set(scheduler="synchronous"):
        assert_same(ref, lazy.compute())


def test_dask_cluster_and_chunked_netcdf(cluster_client, tmp_path):
    from mcfoot.distributed import simulate_dask

    ref = mcfoot.simulate("default", 600, seed=11, models=MODELS)
    lazy = simulate_dask("default", 600, seed=11, models=MODELS, chunk_draws=250)
    assert_same(ref, lazy.compute())
    path = mcfoot.write_tree(lazy, tmp_path / "run.nc")
    assert_same(ref, mcfoot.read_tree(path))


@pytest.mark.parametrize("progress", [True, False])
def test_run_on_cluster_shows_progress_unless_quiet(tmp_path, capfd, progress):
    """`mcfoot run --workers N` (and -q): distributed's progress bar on stderr while the
    cluster writes the chunks; the file is the in-process run's either way."""
    pytest.importorskip("distributed")
    from mcfoot.distributed import client, run_to_netcdf

    ref = mcfoot.simulate("default", 300, seed=3, models=MODELS)
    with client(workers=1, processes=False) as c:
        capfd.readouterr()
        path = run_to_netcdf(tmp_path / "run.nc", "default", 300, 3, MODELS, chunk_draws=100,
                             dask_client=c, progress=progress)
    out, err = capfd.readouterr()
    assert ("100% Completed" in err) is progress
    assert "Completed" not in out
    assert_same(ref, mcfoot.read_tree(path))


def test_streaming_on_cluster_equals_in_process(cluster_client):
    kw = dict(draws=600, seed=4, models=MODELS, chunk_draws=250,
              thresholds={"energy_wh": [0.5]}, ranks=True)
    local = stream.stream("default", progress=False, **kw)
    dist = stream.stream("default", client=cluster_client, **kw)
    for g in ("summary", "claims", "rank"):
        xr.testing.assert_identical(local[g].to_dataset(), dist[g].to_dataset())


# ---- streaming reductions ------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [97, 256, DRAWS])
def test_streaming_summaries_within_bounds(base, chunk):
    scenario, ref = base
    ci = 0.9
    res = stream.stream(scenario, DRAWS, seed=11, models=MODELS, chunk_draws=chunk,
                        ci_prob=ci, thresholds={"energy_wh": [0.3, 3.0]}, progress=False)
    summ = res["summary"]
    eps = summ.attrs["quantile_rel_error"]
    a = (1 - ci) / 2
    for v in ("energy_wh", "water_ml", "carbon_g"):
        x = ref["footprint"][v].transpose("model", "prompt", "draw").values
        s = summ[v]
        np.testing.assert_allclose(s.sel(stat="mean"), x.mean(-1), rtol=1e-12)
        np.testing.assert_allclose(s.sel(stat="sd"), x.std(-1, ddof=1), rtol=1e-10)
        q = np.moveaxis(np.quantile(x, [0.5, a, 1 - a], axis=-1, method="inverted_cdf"), 0, -1)
        got = s.sel(stat=["median", "lower", "upper"]).values
        assert np.array_equal(np.isnan(got), np.isnan(q))
        rel = np.abs(got - q)[~np.isnan(q)] / q[~np.isnan(q)]
        assert rel.max() <= eps * (1 + 1e-9)
        assert int(summ[f"{v}_outside_grid"].sum()) == 0
    x = ref["footprint"]["energy_wh"].transpose("model", "prompt", "draw").values
    want = (x[..., None] > np.array([0.3, 3.0])).mean(axis=2)
    want[np.isnan(x[..., 0])] = np.nan
    np.testing.assert_array_equal(res["claims"]["p_exceed_energy_wh"].values, want)


def test_streaming_quantiles_do_not_depend_on_chunks():
    kw = dict(draws=DRAWS, seed=2, models=MODELS, progress=False)
    a = stream.stream("default", chunk_draws=61, **kw)["summary"]
    b = stream.stream("default", chunk_draws=DRAWS, **kw)["summary"]
    for v in ("energy_wh", "water_ml"):
        q = ["median", "lower", "upper"]
        np.testing.assert_array_equal(a[v].sel(stat=q), b[v].sel(stat=q))


def test_streaming_ranks_match_rank():
    models = ["gpt-5-high", "o3", "claude-3-7-sonnet", "deepseek-r1-azure",
              "deepseek-v3-deepseek"]
    tree = mcfoot.simulate("default", 400, seed=8, models=models)
    want = mcfoot.rank(tree)
    got = stream.stream("default", 400, seed=8, models=models, chunk_draws=150, ranks=True,
                        progress=False)["rank"]
    w = want["rank_probability"].rename(k="rank").sel(model=got.model)
    np.testing.assert_array_equal(got["rank_probability"].values, w.values)


def test_log_grid_error_bound_hand_computed():
    g = stream.LogGrid(lo=1.0, hi=100.0, rel_error=0.01)
    x = np.array([0.0, 0.5, 1.0, 1.0201 * 0.999999, 99.0, 100.0, 1e9])
    idx = g.index(x)
    assert idx.tolist()[:4] == [0, 1, 2, 2] and idx[-1] == g.size - 1 and idx[-2] == g.size - 2
    mids = g.midpoints()
    assert mids[0] == 0 and np.isnan(mids[1]) and np.isnan(mids[-1])
    assert mids[2] == pytest.approx(1.01)  # sqrt(r) with r = 1.01^2
    q = stream.quantiles_from_hist(np.bincount(idx, minlength=g.size)[None], np.array([7]),
                                   [0.5, 1.0, 1 / 7], g)
    assert np.isclose(q[0, 0], mids[idx[3]]) and np.isnan(q[0, 1]) and q[0, 2] == 0.0


def test_local_cluster_starts_with_the_default_dashboard_port_taken():
    """distributed probes port 8787 for its dashboard; with the port held by another program
    it warns (an error under filterwarnings = error) unless the cluster asks for any port."""
    pytest.importorskip("distributed")
    import socket

    from mcfoot.distributed import client

    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        try:
            holder.bind(("0.0.0.0", 8787))
            holder.listen(1)
        except OSError:
            pass  # another program already holds 8787: the condition under test
        with client(workers=1, processes=False) as c:
            assert c.submit(sum, [1, 2, 3]).result() == 6
    finally:
        holder.close()


def test_streamed_ranks_equal_rank_on_exact_ties():
    """Two models with identical footprints and outputs tie in every draw: the streamed
    counts and rank() use one tie rule, so their probabilities are identical."""
    from mcfoot.rank import rank
    from mcfoot.stream import LogGrid, Spec, reduce_tree

    models = ["claude-3-7-sonnet", "gpt-4-1-nano", "llama-3-1-8b"]
    t = mcfoot.simulate("default", 120, seed=3, models=models)
    fp = t["footprint"].to_dataset()
    cat = t["catalogue"].to_dataset()
    twin, src = "llama-3-1-8b", "gpt-4-1-nano"
    for v in fp.data_vars:
        if "model" in fp[v].dims:
            fp[v].loc[{"model": twin}] = fp[v].sel(model=src).values
    for v in cat.data_vars:
        if "model" in cat[v].dims and cat[v].dtype.kind == "f":
            cat[v].loc[{"model": twin}] = cat[v].sel(model=src).values
    tied = xr.DataTree.from_dict({"/": xr.Dataset(attrs=t.attrs), "footprint": fp,
                                  "inputs": t["inputs"].to_dataset(), "catalogue": cat})
    want = rank(tied)
    assert want.attrs["tied_draws"] == 120
    part = reduce_tree(tied, Spec(("energy_wh",), LogGrid(), {}, True))
    assert part.tied_draws == want.attrs["tied_draws"]
    got = part.rank_counts / 120
    np.testing.assert_array_equal(got, want["rank_probability"].sel(
        model=[m for m in models if m in want.model]).values)
