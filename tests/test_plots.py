"""Figures: each plot function draws what it is given (hand-built data where the producer is
another module), returns an Axes, never touches pyplot, and yields a real image."""

import numpy as np
import pytest
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.image import imread

from mcfoot import InputError, plots, simulate
from mcfoot.io import save_figure
from mcfoot.summary import STATS

MODELS = ["o3", "gpt-4o-mar", "llama-3-3-70b", "claude-4-sonnet", "gpt-4-1-nano"]


@pytest.fixture(scope="module")
def tree():
    return simulate("default", draws=400, seed=2, models=MODELS)


def assert_real_image(ax: Axes, path, min_px=(150, 300)):
    save_figure(ax.figure, path, dpi=100)
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] >= min_px[0] and img.shape[1] >= min_px[1]
    assert img[..., :3].std() > 0.02  # not blank
    return img


def ytick_labels(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def test_forest_sorted_log_units_and_image(tree, tmp_path):
    ax = plots.forest(tree, "energy_wh", "medium")
    assert isinstance(ax, Axes)
    s = plots.interval_summary(tree["footprint"].to_dataset()[["energy_wh"]])
    med = s["energy_wh"].sel(prompt="medium", stat="median").to_series()
    assert ytick_labels(ax) == list(med.sort_values(ascending=False).index)  # largest on top
    assert ax.get_xscale() == "log" and ax.get_xlabel().endswith("(Wh)")
    assert_real_image(ax, tmp_path / "forest.png")


def test_forest_draws_what_the_caller_computed(tree):
    def stats(ds, ci_prob):  # a caller's own statistics: here, fixed numbers per model
        out = plots.interval_summary(ds, ci_prob)
        for i in range(out.sizes["model"]):
            out["energy_wh"][i, :, :] = [1.0, 0.0, 10.0 * (i + 1), 5.0 * (i + 1), 20.0 * (i + 1)]
        return out

    ax = plots.forest(tree, stats=stats, log=False, color_by=None)
    points = sorted(line.get_xdata()[0] for line in ax.lines if len(line.get_xdata()) == 1)
    assert points == [10.0 * (i + 1) for i in range(len(MODELS))]
    # a precomputed summary works the same way
    summ = plots.interval_summary(tree["footprint"].to_dataset(), 0.5)
    ax2 = plots.forest(summ, "carbon_g", "short")
    assert ax2.get_xlabel().endswith("(g CO2e)") and "50%" in ax2.get_title()


def test_forest_with_many_models_keeps_labels_apart(tmp_path):
    n = 70
    rng = np.random.default_rng(0)
    med = 10 ** rng.uniform(-2, 1, n)
    stat = np.stack([med, med / 3, med, med / 2, med * 2], axis=-1)[:, None, :]
    ds = xr.Dataset({"energy_wh": (("model", "prompt", "stat"), stat,
                                   {"units": "Wh", "long_name": "facility energy per query"})},
                    coords={"model": [f"model-with-a-long-name-{i:02d}" for i in range(n)],
                            "prompt": ["medium"], "stat": list(STATS)})
    ax = plots.forest(ds)
    fig = ax.figure
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.get_yticklabels()]
    assert len(boxes) == n
    ys = sorted((b.y0, b.y1) for b in boxes)
    assert all(a[1] <= b[0] + 0.5 for a, b in zip(ys, ys[1:])), "tick labels overlap"
    assert min(t.get_fontsize() for t in ax.get_yticklabels()) >= 7
    assert_real_image(ax, tmp_path / "forest70.png")


def test_forest_notes_models_without_the_prompt(tree):
    fp = tree["footprint"].to_dataset()
    fp["energy_wh"].loc[{"model": "o3", "prompt": "short"}] = np.nan
    ax = plots.forest(fp, prompt="short")
    assert "o3" not in ytick_labels(ax) and len(ytick_labels(ax)) == len(MODELS) - 1
    assert any("1 model(s) without a 'short' row" in t.get_text() for t in ax.texts)


@pytest.mark.parametrize("kw, message", [
    ({"variable": "nope"}, "no variable 'nope'"), ({"prompt": "huge"}, "unknown prompt 'huge'")])
def test_forest_bad_input(tree, kw, message):
    with pytest.raises(InputError, match=message):
        plots.forest(tree, **kw)


def test_distribution_ecdf_and_density(tree, tmp_path):
    paper = simulate("paper", draws=400, seed=2, models=MODELS)
    ax = plots.distribution({"paper": paper, "default": tree}, "o3", "medium")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["paper", "default"]
    for line, t in zip(ax.lines, (paper, tree)):
        x, y = line.get_data()
        np.testing.assert_array_equal(x, np.sort(t["footprint"]["energy_wh"].sel(
            model="o3", prompt="medium").values))
        assert y[-1] == 1.0 and np.all(np.diff(y) > 0)
    assert ax.get_xlabel().endswith("(Wh)") and ax.get_ylabel() == "cumulative probability"
    assert_real_image(ax, tmp_path / "ecdf.png")
    ax = plots.distribution([paper, tree], "o3", kind="density", variable="water_ml")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["paper", "default"]
    x, y = ax.lines[0].get_data()
    lx = np.log10(x)
    assert np.isclose(np.sum(y) * (lx[1] - lx[0]), 1.0)  # a density per decade
    assert ax.get_xlabel().endswith("(mL)")
    with pytest.raises(InputError, match="unknown model 'nope'"):
        plots.distribution(tree, "nope")
    with pytest.raises(InputError, match="kind must be"):
        plots.distribution(tree, "o3", kind="violin")


def _rank_ds(per_prompt=False):
    P = np.array([[0.1, 0.2, 0.7], [0.7, 0.3, 0.0], [0.2, 0.5, 0.3]])
    models = ["a", "b", "c"]
    if per_prompt:
        return xr.Dataset({"rank_probability": (("model", "prompt", "k"),
                                                np.stack([P, P[::-1]], axis=1))},
                          coords={"model": models, "prompt": ["short", "long"], "k": [1, 2, 3]})
    return xr.Dataset({"rank_probability": (("model", "k"), P, {"units": "1"})},
                      coords={"model": models, "k": [1, 2, 3]})


def test_rank_heatmap_sorted_by_expected_rank(tmp_path):
    ds = _rank_ds()
    ax = plots.rank(ds)
    # expected ranks: a 2.6, b 1.3, c 2.1
    assert ytick_labels(ax) == ["b", "c", "a"]
    np.testing.assert_array_equal(ax.images[0].get_array(), ds["rank_probability"].values[[1, 2, 0]])
    assert "0.70" in [t.get_text() for t in ax.texts]
    assert_real_image(ax, tmp_path / "rank.png")
    ds["expected_rank"] = ("model", [1.0, 3.0, 2.0])  # the producer's own ordering wins
    assert ytick_labels(plots.rank(ds)) == ["a", "c", "b"]
    assert plots.rank(ds, max_rank=2).images[0].get_array().shape == (3, 2)


def test_rank_per_prompt_needs_a_prompt():
    ds = _rank_ds(per_prompt=True)
    with pytest.raises(InputError, match="per prompt; choose one of short, long"):
        plots.rank(ds)
    assert ytick_labels(plots.rank(ds, "long")) == ["b", "a", "c"]  # rows reversed: E 2.1, 1.3, 2.6
    with pytest.raises(InputError, match="no variable 'rank_probability'"):
        plots.rank(xr.Dataset({"x": ("model", [1.0])}))


def _sensitivity_ds():
    inputs = ["pue/Azure", "gpu_util/large", "cif/Azure", "latency/o3/short"]
    return xr.Dataset({"S1": ("input", [0.1, 0.5, 0.05, 0.2], {"units": "1",
                                                             "long_name": "first-order index"}),
                       "ST": ("input", [0.15, 0.6, 0.05, 0.3], {"units": "1",
                                                               "long_name": "total index"}),
                       "ST_conf": ("input", [0.02, 0.05, 0.01, 0.03])},
                      coords={"input": inputs}, attrs={"title": "Sobol indices"})


def test_tornado_sorted_bars_with_error_bars(tmp_path):
    ds = _sensitivity_ds()
    ax = plots.tornado(ds, "ST")
    assert ytick_labels(ax) == ["attributed accelerator share (gpu_util/large)",
                                "time to first chunk (latency/o3/short)",
                                "power usage effectiveness (pue/Azure)",
                                "grid carbon intensity (location-based) (cif/Azure)"]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [0.6, 0.3, 0.15, 0.05]
    assert ax.get_xlabel() == "total index (1)" and ax.get_title() == "Sobol indices"
    assert_real_image(ax, tmp_path / "tornado.png")
    one = ds.expand_dims(model=["o3"], prompt=["medium"])  # size-1 dims are squeezed
    assert ytick_labels(plots.tornado(one, "ST")) == ytick_labels(ax)
    ax = plots.tornado(ds, top=2)  # every measure (S1 and ST), top 2 inputs by S1
    assert ytick_labels(ax) == ["attributed accelerator share (gpu_util/large)",
                                "time to first chunk (latency/o3/short)"] and len(ax.patches) == 4


def test_tornado_swing_bars_and_selection():
    lo_hi = np.array([[0.9, 1.2], [0.5, 2.0], [0.95, 1.05]])
    ds = xr.Dataset({"energy_wh": (("input", "bound", "output"), np.stack([lo_hi, lo_hi * 2], -1),
                                   {"units": "Wh", "long_name": "energy at input P5 / P95"})},
                    coords={"input": ["pue", "gpu_util", "cif"], "bound": ["P5", "P95"],
                            "output": ["a", "b"]}, attrs={"baseline": 1.0})
    with pytest.raises(InputError, match="also varies over output"):
        plots.tornado(ds, "energy_wh")
    ax = plots.tornado(ds, "energy_wh", sel={"output": "a"})
    assert ytick_labels(ax) == ["attributed accelerator share (gpu_util)",
                                "power usage effectiveness (pue)", "grid carbon intensity (location-based) (cif)"]
    assert all(p.get_x() == 1.0 for p in ax.patches)  # bars start at the baseline
    np.testing.assert_allclose(sorted(p.get_x() + p.get_width() for p in ax.patches),
                               sorted(lo_hi.ravel()))
    with pytest.raises(InputError, match="over 'input'"):
        plots.tornado(xr.Dataset({"x": ("model", [1.0])}))


def test_scale_bars_are_medians_with_intervals(tmp_path):
    draws = np.arange(1, 101, dtype=float)
    da = xr.DataArray(np.stack([draws, 2 * draws, 10 * draws]), dims=("queries", "draw"),
                      coords={"queries": ["1 bn", "50 bn", "100 bn"]}, name="electricity_mwh",
                      attrs={"units": "MWh", "long_name": "facility electricity per year"})
    ax = plots.scale(da, ci_prob=0.9)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [50.5, 101.0, 505.0])
    assert ax.get_ylabel() == "facility electricity per year (MWh)" and "90%" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1 bn", "50 bn", "100 bn"]
    assert_real_image(ax, tmp_path / "scale.png")
    # a mapping of scale() results, one bar each; and a custom statistic
    results = {k: xr.Dataset({"carbon_t": ("draw", v, {"units": "t CO2e"})})
               for k, v in (("paper", draws), ("default", 3 * draws))}
    ax = plots.scale(results, "carbon_t", stats=lambda d, p: xr.Dataset(
        {"median": d.mean("draw"), "lower": d.min("draw"), "upper": d.max("draw")}))
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [50.5, 151.5])
    assert ax.get_ylabel() == "carbon_t (t CO2e)"  # no long_name: the name
    with pytest.raises(InputError, match="name the variable"):
        plots.scale(results)


def test_plots_never_touch_pyplot(tree):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.forest(tree)
    plots.rank(_rank_ds())
    assert plt.get_fignums() == before
