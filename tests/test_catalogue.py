"""The shipped catalogue as a Dataset; validation of user catalogues."""

import numpy as np
import pandas as pd
import pytest

from mcfoot import CatalogueError, load_catalogue
from mcfoot.catalogue import shipped_path

CSV = pd.read_csv(shipped_path())


def test_shipped_catalogue_shape_and_missing_values():
    ds = load_catalogue()
    assert ds.sizes == {"model": 66, "prompt": 3, "quantile": 5}
    assert int(ds.present.sum()) == 194
    assert list(ds.prompt.values) == ["short", "medium", "long"]
    # 42 models have an intelligence index; the others are NaN, never 0
    assert int(ds.intelligence_index.notnull().sum()) == 42
    assert int(np.isnan(ds.hle).sum()) == CSV.drop_duplicates("model_id").hle.isna().sum()
    missing = ds.output_tokens.where(~ds.present)
    assert bool(missing.isnull().all())
    for v in ("latency_s", "speed_tokens_per_s", "input_tokens", "output_tokens",
              "intelligence_index"):
        assert ds[v].attrs["units"]
    row = CSV[(CSV.model_id == "o3") & (CSV.prompt == "long")].iloc[0]
    np.testing.assert_array_equal(
        ds.latency_s.sel(model="o3", prompt="long"),
        [row[f"first_chunk_s_p{p}"] for p in ("05", "25", "50", "75", "95")])
    assert ds.host.sel(model="deepseek-r1-deepseek-128k") == "DeepSeek"
    assert ds.attrs["catalogue_hash"].startswith("sha256:")


def _write(tmp_path, df, name="c.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda d: d.drop(columns=["host"]), "missing column(s) host"),
    (lambda d: pd.concat([d, d.iloc[[0]]]), "duplicate of model 'gpt-5-high', prompt 'short'"),
    (lambda d: d.assign(prompt=d.prompt.where(d.index != 1, "tiny")), "prompt 'tiny'"),
    (lambda d: d.assign(tokens_per_s_p05=d.tokens_per_s_p05.where(d.index != 2, 1e4)),
     "output speed quantiles"),
    (lambda d: d.assign(tokens_per_s_p05=d.tokens_per_s_p05.where(d.index != 2, 0.0)),
     "P5 = 0.0 tokens/s is not positive"),
    (lambda d: d.assign(output_tokens=d.output_tokens.where(d.index != 0, -5)),
     "'output_tokens' = -5 is negative"),
    (lambda d: d.assign(host=d.host.where(d.index != 0, "AWS")), "'host' differs between"),
    (lambda d: d.assign(first_chunk_s_p50=d.first_chunk_s_p50.astype(object).where(
        d.index != 3, "fast")), "'first_chunk_s_p50' = 'fast' is not a number"),
])
def test_bad_catalogues_are_named(tmp_path, mutate, fragment):
    p = _write(tmp_path, mutate(CSV.copy()))
    with pytest.raises(CatalogueError) as err:
        load_catalogue(p)
    assert str(err.value).startswith(str(p)) and fragment in str(err.value), str(err.value)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(CatalogueError, match="not a readable CSV"):
        load_catalogue(tmp_path / "e.csv")
    with pytest.raises(CatalogueError, match="file not found"):
        load_catalogue(tmp_path / "none.csv")
    _write(tmp_path, CSV.iloc[:0], "h.csv")
    with pytest.raises(CatalogueError, match="no rows"):
        load_catalogue(tmp_path / "h.csv")
