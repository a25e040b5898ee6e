"""The default and physical scenarios: calibration and sanity against the study band."""

import numpy as np
import pandas as pd
import pytest

from mcfoot import footprint as fp, rng, simulate
from mcfoot.catalogue import shipped_path
from mcfoot.simulate import _group_values, build_plan, draw_normals

UT = pd.read_csv(shipped_path().parent / "utilization.csv").set_index(["size_class", "hardware"])


def test_physical_medians_in_study_band():
    """The documented calibration of priors/physical.toml: for every size class x hardware
    the median attributed GPU share lies inside the study's min-max band."""
    plan = build_plan("physical")
    n = 40_000
    v = _group_values(plan, draw_normals(plan, rng.normalize_seed(0), 0, n), n)
    hw = plan.combo_hw
    ug, _ = fp.physical_shares(v["gpus"], v["gpus_per_node"][hw], v["batch_size"],
                               v["gpu_power_fraction"][hw], v["host_load"][hw])
    assert len(plan.keys["combo"]) == len(UT)
    for j, key in enumerate(plan.keys["combo"]):
        med = np.median(ug[j])
        assert UT.loc[key, "gpu_util_min"] <= med <= UT.loc[key, "gpu_util_max"], (key, med)
        assert ug[j].std() > 0


@pytest.mark.parametrize("scenario", ["default", "physical"])
def test_uncertain_scenarios_bracket_the_paper_figure(scenario):
    models = ["gpt-4o-mar", "claude-3-7-sonnet", "llama-3-1-8b"]
    paper = simulate("paper", draws=2000, seed=0, models=models)["footprint"]
    other = simulate(scenario, draws=4000, seed=0, models=models)["footprint"]
    for var in ("energy_wh", "water_ml", "carbon_g"):
        p_med = paper[var].median("draw")
        lo, hi = other[var].quantile([0.01, 0.99], dim="draw")
        assert bool(((lo < p_med) & (p_med < hi)).all()), var
        # wider than the study's own spread, never narrower
        assert bool((other[var].std("draw") > paper[var].std("draw") * 0.9).all()), var


def test_default_pue_and_wue_site_are_negatively_coupled():
    t = simulate("default", draws=4000, seed=3, models=["gpt-4o-mar"])["inputs"]
    pue, wue = t["pue"].sel(host="Azure"), t["wue_site"].sel(host="Azure")
    rho = np.corrcoef(np.argsort(np.argsort(pue)), np.argsort(np.argsort(wue)))[0, 1]
    assert -0.5 < rho < -0.28
