"""Request logs: the total's uncertainty (brute-force per-request sampling as oracle), exact
node-time integrals, chunk-invariant sums, regions, groups, and every kind of bad log."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import mcfoot
from mcfoot import footprint as fp
from mcfoot.estimate import EstimateWarning
from mcfoot.logs import LogError
from mcfoot.aggregate import ExactSum, hour_moments, quantiles_at
from mcfoot.workload import summary_table, workload

#: Synthetic logs reach beyond the measured prompt sizes on purpose: the warning that says
#: so is tested once (test_requests_outside_the_measured_sizes_warn_once).
pytestmark = pytest.mark.filterwarnings("ignore::mcfoot.estimate.EstimateWarning")
CAT = mcfoot.load_catalogue()
PROBS = CAT["quantile"].values
MEASURED = {"short": 100, "medium": 1000, "long": 10000}
#: A small mixed log at the catalogue's measured input sizes (the oracle needs no
#: interpolation); output tokens differ from the catalogue's.
MIX = pd.DataFrame({
    "model": ["gpt-4o-mar", "gpt-4o-mar", "o3", "claude-4-sonnet", "llama-3-1-8b",
              "deepseek-r1-deepseek-128k", "gemini-2-5-flash-vertex", "gpt-4-1-nano"],
    "input_tokens": [100, 1000, 1000, 10000, 100, 1000, 100, 10000],
    "output_tokens": [250, 800, 2000, 400, 120, 1500, 60, 900],
})


def brute_force(log: pd.DataFrame, draws: int, seed: int, scenario="default", rs_seed=99):
    """Totals per draw by sampling every request on its own: the shared inputs of
    ``mcfoot.simulate`` (same seed: same draws) and, per request, independent latency and
    speed through the study's equations (footprint.py), the latency/speed copula applied."""
    models = sorted(set(log.model))
    tree = mcfoot.simulate(scenario, draws=draws, seed=seed, models=models)
    inp, cat = tree["inputs"].to_dataset(), tree["catalogue"].to_dataset()
    rho = -0.3  # the shipped scenarios' latency/speed copula
    rs = np.random.default_rng(rs_seed)
    out = {k: np.zeros(draws) for k in ("energy_wh", "carbon_g", "water_site_ml",
                                         "water_source_ml", "carbon_market_g",
                                         "carbon_embodied_g")}
    for m, t_in, t_out in log[["model", "input_tokens", "output_tokens"]].itertuples(
            index=False):
        p = next(k for k, v in MEASURED.items() if v == t_in)
        z = rs.standard_normal((2, draws))
        u1 = fp.normal_cdf(z[0])
        u2 = fp.normal_cdf(rho * z[0] + math.sqrt(1 - rho * rho) * z[1])
        lat = fp.empirical_ppf(u1, PROBS, cat.latency_s.sel(model=m, prompt=p).values)
        spd = fp.empirical_ppf(u2, PROBS, cat.speed_tokens_per_s.sel(model=m, prompt=p).values)
        hours = fp.query_hours(lat, t_out, spd)
        hw = cat.hardware.sel(model=m).item()
        combo = f"{cat.size_class.sel(model=m).item()}/{hw}"
        host = cat.host.sel(model=m).item()
        h = {q: inp[q].sel(host=host).values for q in ("pue", "wue_site", "wue_source", "cif",
                                                         "cif_market")}
        k = {q: inp[q].sel(hardware=hw).values for q in (
            "idle_fraction", "gpus_per_node", "embodied_accelerator", "embodied_node",
            "hardware_lifetime", "fleet_utilisation")}
        active = inp.power_kw.sel(size_class_hardware=combo).mean("bound").values
        it = fp.it_energy_wh(hours, active + fp.idle_power_kw(active, k["idle_fraction"]))
        e = fp.facility_energy_wh(it, h["pue"])
        out["energy_wh"] += e
        out["carbon_g"] += fp.carbon_g(e, h["cif"])
        out["carbon_market_g"] += fp.carbon_g(e, h["cif_market"])
        out["water_site_ml"] += fp.water_site_ml(it, h["wue_site"])
        out["water_source_ml"] += fp.water_source_ml(e, h["wue_source"])
        rate = fp.embodied_g_per_h(inp.node_share.sel(size_class_hardware=combo).values,
                                   k["gpus_per_node"], k["embodied_accelerator"],
                                   k["embodied_node"], k["hardware_lifetime"],
                                   k["fleet_utilisation"])
        out["carbon_embodied_g"] += hours * rate
    return out


# ---- the total's uncertainty -----------------------------------------------------------------

def test_small_log_equals_brute_force_per_request_sampling():
    draws = 4000
    got = workload(MIX, draws=draws, seed=5)
    assert got.attrs["method"].startswith("exact")
    ref = brute_force(MIX, draws, 5)
    for v, b in ref.items():
        w = got["total"][v].values
        d = w - b  # same shared inputs per draw: only per-request noise differs
        se = d.std() / math.sqrt(draws)
        assert abs(d.mean()) < 4 * se, v
        assert stats.ks_2samp(w, b).pvalue > 1e-3, v
        np.testing.assert_allclose(np.quantile(w, [0.05, 0.5, 0.95]),
                                   np.quantile(b, [0.05, 0.5, 0.95]), rtol=0.08, err_msg=v)


def test_conditional_mean_is_within_its_error_bound_of_per_request_sampling():
    log = pd.concat([MIX] * 40, ignore_index=True)  # 320 requests
    draws = 3000
    got = workload(log, draws=draws, seed=2, method="mean")
    bound = float(got["total"]["noise_rel_sd_bound"])
    assert 0 < bound < 0.2
    ref = brute_force(log, draws, 2)
    for v, b in ref.items():
        m = got["total"][v].values
        r = (b - m) / m  # per-request noise relative to the conditional mean
        assert abs(r.mean()) < 4 * r.std() / math.sqrt(draws), v
        assert r.std() <= 1.05 * bound, (v, r.std(), bound)


def test_interval_does_not_shrink_like_one_over_sqrt_n():
    width = {}
    for n in (1, 20, 10_000, 1_000_000):
        log = MIX.assign(count=n)
        t = workload(log, draws=3000, seed=1)["total"]["energy_wh"].values / n
        q05, q50, q95 = np.quantile(t, [0.05, 0.5, 0.95])
        width[n] = (q95 - q05) / q50
    shared = workload(MIX, draws=3000, seed=1, method="mean")["total"]["energy_wh"].values
    q05, q50, q95 = np.quantile(shared, [0.05, 0.5, 0.95])
    w_shared = (q95 - q05) / q50
    # 1/sqrt(N) would make the 10^6 log's interval 1000 times narrower than one mix's; it
    # is at most a few times narrower: what is left is the shared inputs' part
    assert width[1_000_000] > 100 * width[1] / math.sqrt(1_000_000)
    assert w_shared > 0.2
    assert width[1] >= width[20] >= 0.98 * w_shared
    assert width[1_000_000] == pytest.approx(w_shared, rel=1e-9)  # converges to the shared part
    assert width[10_000] == pytest.approx(w_shared, rel=1e-9)


# ---- node time -------------------------------------------------------------------------------

def test_hour_moments_are_the_exact_integrals_of_the_sampler():
    rs = np.random.default_rng(0)
    rows = CAT.latency_s.values.reshape(-1, 5)
    ok = np.isfinite(rows).all(1)
    lat_q = rows[ok][:20]
    spd_q = CAT.speed_tokens_per_s.values.reshape(-1, 5)[ok][:20]
    t_out = np.linspace(0, 3000, 20)
    eh, b = hour_moments(PROBS, lat_q, spd_q, t_out)
    u = rs.uniform(size=(2, 400_000))
    for r in range(20):
        lat = fp.empirical_ppf(u[0], PROBS, lat_q[r])
        spd = fp.empirical_ppf(u[1], PROBS, spd_q[r])
        h = fp.query_hours(lat, t_out[r], spd)
        assert abs(h.mean() - eh[r]) < 5 * h.std() / math.sqrt(u.shape[1])
        assert h.std() <= b[r] * (1 + 1e-2)


@given(st.floats(0.01, 50), st.floats(1, 500), st.integers(0, 10_000))
def test_hour_moments_of_a_constant_quantile_function(lat, spd, t_out):
    eh, b = hour_moments(PROBS, np.full((1, 5), lat), np.full((1, 5), spd), [t_out])
    assert eh[0] == pytest.approx((lat + t_out / spd) / 3600, rel=1e-12)
    assert b[0] <= 1e-7 * eh[0]  # zero up to rounding (sqrt of a cancelled difference)


def test_quantiles_at_measured_sizes_are_the_catalogue_rows():
    m = np.array([list(CAT.model.values).index("gpt-4o-mar")] * 3)
    lq, sq, outside, _ = quantiles_at(CAT, m, np.array([100, 1000, 10000]))
    np.testing.assert_array_equal(lq, CAT.latency_s.sel(model="gpt-4o-mar").values)
    np.testing.assert_array_equal(sq, CAT.speed_tokens_per_s.sel(model="gpt-4o-mar").values)
    assert not outside.any()
    lq2, _, outside2, _ = quantiles_at(CAT, m[:2], np.array([10, 50_000]))
    np.testing.assert_array_equal(lq2, lq[[0, 2]])  # nearest measured size outside
    assert outside2.all()


def test_quantiles_at_is_estimates_interpolation():
    from mcfoot.estimate import request_catalogue

    tokens = np.array([0, 50, 100, 333, 1000, 2345, 9999, 10000, 123456])
    m = list(CAT.model.values).index("claude-4-sonnet")
    lq, sq, outside, _ = quantiles_at(CAT, np.full(len(tokens), m), tokens)
    with pytest.warns(EstimateWarning):
        req = request_catalogue(CAT, ["claude-4-sonnet"], np.full(len(tokens), 300), tokens)
    np.testing.assert_array_equal(lq, req.latency_s.values[0])
    np.testing.assert_array_equal(sq, req.speed_tokens_per_s.values[0])
    assert outside.tolist() == [True, True] + [False] * 6 + [True]


@pytest.mark.filterwarnings("error::mcfoot.estimate.EstimateWarning")
def test_requests_outside_the_measured_sizes_warn_once():
    log = MIX.assign(input_tokens=[100, 1000, 1000, 10000, 100, 1000, 100, 20000])
    with pytest.warns(EstimateWarning, match="1 of 8 requests lie outside"):
        t = workload(log, draws=20)
    assert t.attrs["requests_outside_measured_input_tokens"] == 1
    workload(MIX, draws=20)  # at measured sizes: no warning


# ---- exact sums, chunking, partitions --------------------------------------------------------

@settings(max_examples=50)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60),
       st.integers(1, 7))
def test_exact_sum_is_exact_and_order_free(xs, k):
    x = np.array(xs)
    keys = np.arange(len(x)) % 3
    whole = ExactSum()
    whole.add(keys, x)
    parts = ExactSum()
    for s in range(0, len(x), k)[::-1]:
        p = ExactSum()
        p.add(keys[s:s + k], x[s:s + k])
        parts = p.merge(parts)
    assert whole.values() == parts.values()
    for key, v in whole.values().items():
        assert v == math.fsum(x[keys == key])


def _synthetic(n, seed=0):
    rs = np.random.default_rng(seed)
    models = ["gpt-4o-mar", "o3", "claude-4-sonnet", "llama-3-1-8b", "gpt-4-1-nano"]
    return pd.DataFrame({
        "model": rs.choice(models, n),
        "input_tokens": rs.lognormal(6, 1.2, n).astype(int),
        "output_tokens": rs.lognormal(5.5, 1, n).astype(int),
        "count": rs.integers(1, 4, n),
        "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(rs.integers(0, 300, n),
                                                                    unit="D"),
    })


def test_same_numbers_for_any_chunking_and_format(tmp_path):
    log = _synthetic(3000)
    csv = tmp_path / "log.csv"
    log.to_csv(csv, index=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, s in enumerate(range(0, len(log), 1000)):
        log.iloc[s:s + 1000].to_parquet(folder / f"part-{i}.parquet", index=False)
    base = workload(log, draws=500, by="month")
    assert base.attrs["method"].startswith("mean")
    for src, chunk in ((log, 97), (csv, 1000), (csv, 333), (folder, 250)):
        got = workload(src, draws=500, by="month", chunk_rows=chunk)
        for g in ("total", "groups"):
            for v in ("energy_wh", "carbon_g", "water_ml", "energy_wh"):
                np.testing.assert_array_equal(got[g][v].values, base[g][v].values)


def test_exact_mode_same_numbers_for_any_chunking():
    log = _synthetic(60).assign(count=1)
    a = workload(log, draws=300)
    b = workload(log, draws=300, chunk_rows=11)
    assert a.attrs["method"].startswith("exact")
    np.testing.assert_array_equal(a["total"]["water_ml"].values, b["total"]["water_ml"].values)


def test_dask_partitioned_log_gives_the_same_numbers(tmp_path):
    from mcfoot.distributed import client

    log = _synthetic(2500, seed=3)
    for i, s in enumerate(range(0, len(log), 700)):
        log.iloc[s:s + 700].to_parquet(tmp_path / f"p{i}.parquet", index=False)
    local = workload(tmp_path, draws=400, by="model")
    with client(workers=2, processes=False) as c:
        dist = workload(tmp_path, draws=400, by="model", client=c, progress=False)
    for g in ("total", "groups"):
        np.testing.assert_array_equal(dist[g]["energy_wh"].values, local[g]["energy_wh"].values)
    assert dist.attrs["log_hash"] == local.attrs["log_hash"]


# ---- groups, regions, exports ----------------------------------------------------------------

def test_groups_sum_to_the_total_and_carry_counts():
    log = _synthetic(1500, seed=4)
    t = workload(log, draws=300, by=["model", "month"])
    g = t["groups"].to_dataset()
    np.testing.assert_allclose(g["energy_wh"].sum("group").values,
                               t["total"]["energy_wh"].values, rtol=1e-12)
    assert int(g["requests"].sum()) == int(log["count"].sum()) == int(t["total"]["requests"])
    assert int(t["total"]["output_tokens"]) == int((log["count"] * log["output_tokens"]).sum())
    assert g["energy_wh"].attrs["units"] == "Wh"
    assert set(g["month"].values) <= {f"2025-{m:02d}" for m in range(1, 13)}
    table = summary_table(t)
    assert table.index[0] == "total" and "energy_wh median [Wh]" in table.columns


def test_region_column_and_argument_set_the_grid():
    log = MIX.assign(region="france")
    t = workload(log, draws=200)["total"]
    np.testing.assert_allclose(t["carbon_g"].values, t["energy_wh"].values * 0.044,
                               rtol=1e-12)
    np.testing.assert_allclose(t["water_source_ml"].values, t["energy_wh"].values * 3.67,
                               rtol=1e-12)
    t2 = workload(MIX, draws=200, region="FRA")
    np.testing.assert_array_equal(t2["total"]["carbon_g"].values, t["carbon_g"].values)
    assert t2.attrs["scenario"] == "default@france" and t2.attrs["region"] == "FRA"


def test_csv_export_has_units_and_provenance(tmp_path):
    t = workload(MIX, draws=200)
    path = mcfoot.io.write_csv(summary_table(t), tmp_path / "w.csv")
    text = path.read_text()
    assert "# scenario_hash: sha256:" in text and "# log_hash: sha256:" in text
    df = pd.read_csv(path, comment="#", index_col=0)
    assert "carbon_g median [g CO2e]" in df.columns and df.index[0] == "total"
    frame = mcfoot.io.to_dataframe(t["total"].to_dataset(), dim="draw")
    assert "energy_wh [Wh]" in frame.columns and len(frame) == 200


# ---- bad logs --------------------------------------------------------------------------------

def _csv(tmp_path, text, name="log.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, match", [
    ("model,input_tokens,output_tokens\ngpt-4o-mar,10,20\ngpt4o,10,20\n",
     r"line 3: unknown model 'gpt4o' \(closest catalogue ids: gpt-4, gpt-4o-"),
    ("model,input_tokens,output_tokens\ngpt-4o-mar,10,-5\n",
     r"line 2: output_tokens = -5 is below 0"),
    ("model,input_tokens,output_tokens\ngpt-4o-mar,10.5,5\n", r"line 2: input_tokens = 10.5"),
    ("model,input_tokens,output_tokens\ngpt-4o-mar,ten,5\n", r"line 2: input_tokens = 'ten'"),
    ("model,output_tokens\ngpt-4o-mar,5\n", r"missing column\(s\) input_tokens"),
    ("", r"the file is empty"),
    ("model,input_tokens,output_tokens\n", r"no requests"),
    ("model,input_tokens,output_tokens,count\ngpt-4o-mar,1,5,-1\n", r"line 2: count = "),
    ("model,input_tokens,output_tokens,region\ngpt-4o-mar,1,5,atlantis\n",
     r"line 2: unknown region 'atlantis'"),
    ("model,input_tokens,output_tokens,timestamp\ngpt-4o-mar,1,5,yesterday\n",
     r"line 2: timestamp = 'yesterday' is not a date"),
    ("model,input_tokens,output_tokens\n,1,5\n", r"line 2: model is empty"),
])
def test_bad_logs_get_one_clear_error(tmp_path, text, match):
    p = _csv(tmp_path, text)
    by = "month" if "timestamp" in text else None
    with pytest.raises(LogError, match=match) as e:
        workload(p, draws=10, by=by)
    assert str(p) in str(e.value)


def test_one_bad_row_deep_inside_a_large_file(tmp_path):
    n = 120_000
    log = pd.DataFrame({"model": "gpt-4o-mar", "input_tokens": 100, "output_tokens": 300},
                       index=range(n))
    log.loc[98_765, "output_tokens"] = -1
    p = tmp_path / "big.csv"
    log.to_csv(p, index=False)
    with pytest.raises(LogError, match=r"big.csv: line 98767: output_tokens = -1 is below 0"):
        workload(p, draws=10, chunk_rows=25_000)
    pq = tmp_path / "big.parquet"
    log.to_parquet(pq, index=False)
    with pytest.raises(LogError, match=r"big.parquet: row 98766: output_tokens = -1"):
        workload(pq, draws=10, chunk_rows=25_000)


def test_skip_unknown_reports_what_it_dropped():
    log = pd.concat([MIX, pd.DataFrame({"model": ["my-model"] * 2, "input_tokens": [10, 20],
                                        "output_tokens": [5, 7], })], ignore_index=True)
    with pytest.raises(LogError, match="unknown model 'my-model'.*--skip-unknown"):
        workload(log, draws=10)
    t = workload(log, draws=10, skip_unknown=True)
    assert t.attrs["skipped_requests"] == 2
    assert "2 requests, 30 input and 12 output tokens" in t.attrs["skipped"]
    assert int(t["total"]["requests"]) == len(MIX)
    with pytest.raises(LogError, match="no requests left"):
        workload(log.iloc[-2:], draws=10, skip_unknown=True)


def test_column_mapping(tmp_path):
    p = _csv(tmp_path, "engine,prompt,completion\ngpt-4o-mar,100,300\n")
    t = workload(p, draws=10, columns="model=engine,input_tokens=prompt,"
                                      "output_tokens=completion")
    assert int(t["total"]["output_tokens"]) == 300
    with pytest.raises(LogError, match="missing column.*--columns"):
        workload(p, draws=10)
    with pytest.raises(LogError, match="unknown column"):
        workload(p, draws=10, columns="engine=model")


def test_cli_workload_exit_codes_and_outputs(tmp_path, capsys):
    from mcfoot.cli import main

    good = _csv(tmp_path, "model,input_tokens,output_tokens,timestamp\n"
                          "gpt-4o-mar,120,300,2025-06-01\no3,800,2000,2025-07-02\n", "good.csv")
    bad = _csv(tmp_path, "model,input_tokens,output_tokens\ngpt4o,1,1\n", "bad.csv")
    code = main(["workload", str(bad), "-o", str(tmp_path / "x.nc"), "--csv",
                 str(tmp_path / "x.csv")])
    assert code == 2 and "unknown model 'gpt4o'" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists() and not (tmp_path / "x.csv").exists()
    code = main(["workload", str(good), "--draws", "300", "--by", "month", "-o",
                 str(tmp_path / "w.nc"), "--csv", str(tmp_path / "w.csv"), "-q"])
    out = capsys.readouterr().out
    assert code == 0
    assert "energy_wh" in out and "month=2025-07" in out
    tree = mcfoot.read_tree(tmp_path / "w.nc", require="total")
    assert tree["total"]["energy_wh"].attrs["units"] == "Wh"
    assert (tmp_path / "w.csv").read_text().startswith("# result_kind: workload") or \
        (tmp_path / "w.csv").read_text().startswith("# mcfoot_version")
    assert main(["workload", str(good), "--draws", "50", "--json", "-q"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[0]["group"] == "total" and "energy_wh median [Wh]" in rows[0]


def test_region_option_of_simulate_and_csv_of_summary(tmp_path):
    t = mcfoot.simulate("default", draws=50, models=["gpt-4o-mar", "o3"], region="fra")
    fpt = t["footprint"]
    np.testing.assert_allclose(fpt["carbon_g"].values, fpt["energy_wh"].values * 0.044,
                               rtol=1e-12)
    assert t.attrs["scenario"] == "default@france"
    base = mcfoot.simulate("default", draws=50, models=["gpt-4o-mar", "o3"])
    np.testing.assert_array_equal(base["footprint"]["energy_wh"].values,
                                  fpt["energy_wh"].values)  # only the grid changed
    with pytest.raises(mcfoot.InputError, match="unknown region 'atlantis'"):
        mcfoot.simulate("default", draws=5, models=["o3"], region="atlantis")
    from mcfoot.cli import main

    mcfoot.write_tree(t, tmp_path / "r.nc")
    assert main(["summary", str(tmp_path / "r.nc"), "--csv", str(tmp_path / "s.csv")]) == 0
    df = pd.read_csv(tmp_path / "s.csv", comment="#", index_col=[0, 1])
    assert "energy_wh median [Wh]" in df.columns and len(df) == 6
    assert "# scenario: default@france" in (tmp_path / "s.csv").read_text()


# ---- API usage blocks ------------------------------------------------------------------------

@pytest.mark.parametrize("usage, want", [
    ({"prompt_tokens": 2345, "completion_tokens": 800, "total_tokens": 3145,
      "completion_tokens_details": {"reasoning_tokens": 500}}, (2345, 800, "openai-chat")),
    ({"input_tokens": 120, "output_tokens": 300, "input_tokens_details": {"cached_tokens": 0},
      "output_tokens_details": {"reasoning_tokens": 100}}, (120, 300, "openai-responses")),
    ({"input_tokens": 20, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 4000,
      "output_tokens": 250}, (5020, 250, "anthropic")),
    ({"input_tokens": 20, "output_tokens": 250}, (20, 250, "anthropic")),
    ({"usageMetadata": {"promptTokenCount": 90, "candidatesTokenCount": 40,
                        "thoughtsTokenCount": 200, "totalTokenCount": 330}}, (90, 240, "gemini")),
])
def test_usage_tokens_of_each_api_style(usage, want):
    from mcfoot.usage import usage_tokens

    assert usage_tokens(usage) == want


def test_estimate_usage_equals_estimate_and_rejects_bad_blocks():
    from mcfoot.usage import usage_tokens

    u = {"prompt_tokens": 1000, "completion_tokens": 700,
         "completion_tokens_details": {"reasoning_tokens": 300}}
    got = mcfoot.estimate_usage(u, model="o3", draws=300)
    ref = mcfoot.estimate("o3", 700, 1000, draws=300)
    np.testing.assert_array_equal(got["energy_wh"].values, ref["energy_wh"].values)
    assert got.attrs["usage_style"] == "openai-chat" and got.attrs["usage_output_tokens"] == 700
    for bad, match in (({"tokens": 5}, "none of the known token fields"),
                       ({"prompt_tokens": -1, "completion_tokens": 5}, r"usage\['prompt_tokens'\]"),
                       ({"input_tokens": 1.5, "output_tokens": 5}, "whole number"),
                       ("12 tokens", "must be a dict")):
        with pytest.raises(mcfoot.InputError, match=match):
            usage_tokens(bad)


def test_empty_region_cells_use_the_hosts_grid():
    mixed = MIX.assign(region=["france", None, "", "france", None, "", None, "france"])
    t = workload(mixed, draws=100, by="region", method="mean")
    g = t["groups"].to_dataset()
    assert sorted(g["region"].values) == ["(host's own)", "france"]
    own = workload(MIX.iloc[[1, 2, 4, 5, 6]], draws=100, method="mean")
    i = list(g["region"].values).index("(host's own)")
    np.testing.assert_allclose(g["carbon_g"].values[:, i], own["total"]["carbon_g"].values,
                               rtol=1e-12)


def test_estimate_region_and_csv(tmp_path, capsys):
    from mcfoot.cli import main

    e = mcfoot.estimate("gpt-4o-mar", 800, 1000, draws=200, region="ireland")
    np.testing.assert_allclose(e["carbon_g"].values, e["energy_wh"].values * 0.280, rtol=1e-12)
    assert main(["estimate", "--model", "gpt-4o-mar", "--output-tokens", "800",
                 "--input-tokens", "1000", "--draws", "200", "--csv",
                 str(tmp_path / "e.csv"), "-q"]) == 0
    df = pd.read_csv(tmp_path / "e.csv", comment="#", index_col=0)
    assert df.index.tolist() == ["gpt-4o-mar"] and "energy_wh median [Wh]" in df.columns


# ---- sampling designs --------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["mean", "exact"])
def test_workload_sobol_design_chunking_and_mcse(method):
    """sampling="sobol": the shared inputs are a scrambled Sobol' design over the group
    streams (recorded), any chunking gives the same bits, the summary's MCSE comes from the
    replicates and is far smaller than plain MC's for the mean total (mean mode)."""
    log = _synthetic(40, seed=6) if method == "exact" else _synthetic(1500, seed=6)
    kw = dict(draws=1024, seed=3, method=method, by="model")
    s = workload(log, sampling="sobol", **kw)
    again = workload(log, sampling="sobol", chunk_rows=7, **kw)
    for g in ("total", "groups"):
        np.testing.assert_array_equal(again[g]["energy_wh"].values, s[g]["energy_wh"].values)
    a = s.attrs
    assert (a["sampling"], a["sampling_replicates"], a["sampling_points"]) == ("sobol", 16, 64)
    assert len(a["sampling_scramble_seeds"].split(";")) == 16
    mc = workload(log, **kw)
    assert mc.attrs["sampling"] == "mc"
    e = s["total"]["energy_wh"].values
    table, mct = summary_table(s), summary_table(mc)
    assert table.attrs["mcse_method"].startswith("sd of 16 independent Sobol' scrambles")
    se = table.loc["total", "energy_wh_mcse mean [Wh]"]
    assert se == pytest.approx(e.reshape(16, 64).mean(1).std(ddof=1) / 4, rel=1e-12)
    se_mc = mct.loc["total", "energy_wh_mcse mean [Wh]"]
    x = mc["total"]["energy_wh"].values
    assert se_mc == pytest.approx(x.std(ddof=1) / math.sqrt(1024), rel=1e-12)
    assert abs(e.mean() - x.mean()) < 3 * math.hypot(se, se_mc)
    if method == "mean":  # the total is a smooth function of the shared inputs only
        assert se_mc > 4 * se, (se_mc, se)  # measured 6.6x (16 x 64 points, ~40 inputs)
    assert np.isfinite(table.filter(like="energy_wh_mcse").to_numpy()).all()


def test_workload_sampling_options_are_checked_first_and_cli_passes_them(tmp_path, capsys):
    from mcfoot.cli import main

    with pytest.raises(mcfoot.InputError, match=r"draws=512 \(16 x 32\)"):
        workload("/no/such/log.csv", draws=1000, sampling="sobol")  # before reading the log
    good = _csv(tmp_path, "model,input_tokens,output_tokens\ngpt-4o-mar,120,300\n"
                          "o3,800,2000\n", "good.csv")
    assert main(["workload", str(good), "--draws", "256", "--sampling", "sobol",
                 "--replicates", "4", "-q", "-o", str(tmp_path / "w.nc")]) == 0
    out = capsys.readouterr().out
    assert "(sobol)" in out and "mcse" in out
    tree = mcfoot.read_tree(tmp_path / "w.nc", require="total")
    ref = workload(good, draws=256, sampling="sobol", replicates=4)
    np.testing.assert_array_equal(tree["total"]["energy_wh"].values,
                                  ref["total"]["energy_wh"].values)
    assert int(tree.attrs["sampling_replicates"]) == 4


def test_estimate_usage_takes_the_sampling_design():
    u = {"input_tokens": 900, "output_tokens": 400}
    got = mcfoot.estimate_usage(u, model="o3", draws=256, sampling="sobol", replicates=8)
    ref = mcfoot.estimate("o3", 400, 900, draws=256, sampling="sobol", replicates=8)
    np.testing.assert_array_equal(got["energy_wh"].values, ref["energy_wh"].values)
    assert got.attrs["sampling"] == "sobol" and got.attrs["sampling_replicates"] == 8
