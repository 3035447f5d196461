"""Panel construction from long frames / CSV files, to_frame round trip, summary."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from causalmmm_jax.data import ColumnMapping, DataWarning, panel_from_csv, panel_from_frame, panel_summary, panel_to_frame


def test_build_full_grid_shapes_and_values(long_frame, small_mapping):
    df = long_frame(n_regions=3, n_weeks=10, n_channels=2, n_controls=2)
    p = panel_from_frame(df, small_mapping)
    assert (p.n_regions, p.n_weeks, p.n_channels, p.n_controls) == (3, 10, 2, 2)
    assert p.media.dtype == p.controls.dtype == p.target.dtype == np.float64
    assert p.mask.dtype == bool and p.mask.all()
    assert p.channels == ("tv_imps", "radio_imps") and p.control_names == ("ctrl_1", "ctrl_2")
    assert p.times.dtype == np.int64 and list(p.times) == list(range(1, 11))
    assert list(p.regions) == [500, 507, 514]
    np.testing.assert_array_equal(p.target, df["sales"].to_numpy().reshape(3, 10))
    np.testing.assert_array_equal(p.media[..., 1], df["radio_imps"].to_numpy().reshape(3, 10))
    assert p.spend is None and p.spend_columns is None


def test_missing_cells_are_masked_zero_never_filled(long_frame, small_mapping):
    df = long_frame(n_regions=2, n_weeks=8, drop=((0, 0), (0, 1), (1, 7)))
    p = panel_from_frame(df, small_mapping)
    missing = [(0, 0), (0, 1), (1, 7)]
    for r, t in missing:
        assert not p.mask[r, t]
        assert p.target[r, t] == 0.0 and (p.media[r, t] == 0).all() and (p.controls[r, t] == 0).all()
    assert p.mask.sum() == 16 - 3


def test_rows_in_any_order_and_regions_sorted(long_frame, small_mapping):
    df = long_frame(n_regions=3, n_weeks=6)
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    a, b = panel_from_frame(df, small_mapping), panel_from_frame(shuffled, small_mapping)
    np.testing.assert_array_equal(a.media, b.media)
    np.testing.assert_array_equal(a.regions, b.regions)


def test_week_absent_for_all_regions_stays_on_grid(long_frame, small_mapping):
    df = long_frame(n_regions=2, n_weeks=6)
    df = df[df["week"] != 3]
    p = panel_from_frame(df, small_mapping)
    assert list(p.times) == [1, 2, 3, 4, 5, 6]
    assert not p.mask[:, 2].any() and p.mask.sum() == 10
    assert panel_summary(p)["empty_weeks"] == [3]


def test_dates_weekly_grid_with_gap(long_frame, small_mapping):
    df = long_frame(n_regions=2, n_weeks=6, dates=True)
    gap = pd.Timestamp("2023-01-16")
    df = df[df["week"] != gap]
    p = panel_from_frame(df, small_mapping)
    assert p.times.dtype == np.dtype("datetime64[ns]")
    assert len(p.times) == 6 and p.times[2] == np.datetime64("2023-01-16")
    assert not p.mask[:, 2].any()
    s = panel_summary(p)
    assert s["time"] == {"kind": "date", "first": "2023-01-02", "last": "2023-02-06", "step_days": 7.0}


def test_date_strings_are_parsed(long_frame, small_mapping):
    df = long_frame(n_regions=2, n_weeks=5, dates=True)
    df["week"] = df["week"].dt.strftime("%Y-%m-%d")
    p = panel_from_frame(df, small_mapping)
    assert p.times[0] == np.datetime64("2023-01-02") and p.n_weeks == 5


def test_string_regions_kept(long_frame, small_mapping):
    df = long_frame(n_regions=3, n_weeks=5, str_regions=True)
    p = panel_from_frame(df.iloc[::-1], small_mapping)
    assert list(p.regions) == ["r00", "r01", "r02"]


def test_single_region_single_channel_no_controls(long_frame):
    df = long_frame(n_regions=1, n_weeks=5, n_channels=1, n_controls=0)
    m = ColumnMapping(region="region", time="week", target="sales", media=("tv_imps",))
    p = panel_from_frame(df, m)
    assert p.media.shape == (1, 5, 1) and p.controls.shape == (1, 5, 0)


def test_spend_pairs_with_media_by_order(long_frame):
    df = long_frame(n_regions=2, n_weeks=4, spend=True)
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_imps",), controls=("ctrl_*",),
                      spend=("*_spend",))
    p = panel_from_frame(df, m)
    assert p.spend_columns == ("tv_spend", "radio_spend")
    np.testing.assert_array_equal(p.spend[..., 0], df["tv_spend"].to_numpy().reshape(2, 4))


def test_pattern_expansion_keeps_file_order_and_explicit_positions(long_frame):
    df = long_frame(n_regions=1, n_weeks=4, n_channels=3)
    m = ColumnMapping(region="region", time="week", target="sales", media=("search_imps", "*_imps"))
    assert panel_from_frame(df, m).channels == ("search_imps", "tv_imps", "radio_imps")


def test_missing_media_zero_treats_nan_as_zero(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=4)
    df.loc[2, "tv_imps"] = np.nan
    p = panel_from_frame(df, small_mapping, missing_media="zero")
    assert p.media[0, 2, 0] == 0.0 and p.mask[0, 2]


def test_constant_target_warns(long_frame, small_mapping):
    df = long_frame(n_regions=2, n_weeks=5)
    df.loc[df["region"] == 507, "sales"] = 42.0
    with pytest.warns(DataWarning, match="sales.*507"):
        panel_from_frame(df, small_mapping)


def test_media_the_data_cannot_measure_warns(long_frame, small_mapping):
    """One named warning per media column that is zero everywhere, never changes over time within a
    region, or is active in one region only; ordinary columns give none."""
    import warnings

    df = long_frame(n_regions=3, n_weeks=6, n_channels=5)
    region = df["region"]
    df["tv_imps"] = 0.0
    df["radio_imps"] = 7.0
    df["search_imps"] = region.map({500: 1.0, 507: 2.0, 514: 0.0}).astype(float)
    df.loc[region != 500, "social_imps"] = 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        panel_from_frame(df, small_mapping)
    msgs = {str(w.message).split("'")[1]: str(w.message) for w in caught if w.category is DataWarning}
    assert set(msgs) == {"tv_imps", "radio_imps", "search_imps", "social_imps"}, msgs
    assert "zero in every row" in msgs["tv_imps"]
    assert "same value (7) in every row" in msgs["radio_imps"] and "priors" in msgs["radio_imps"]
    assert "never changes over time within a region" in msgs["search_imps"]
    assert "only one of 3 regions (500)" in msgs["social_imps"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        panel_from_frame(long_frame(n_regions=3, n_weeks=6, n_channels=5), small_mapping)


def test_from_csv_with_bom(tmp_path, long_frame, small_mapping):
    df = long_frame(n_regions=2, n_weeks=5)
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + df.to_csv(index=False).encode())
    p = panel_from_csv(path, small_mapping)
    assert p.n_regions == 2 and list(p.regions) == [500, 507]


def test_to_frame_round_trip_and_summary(long_frame, small_mapping):
    df = long_frame(n_regions=3, n_weeks=7, drop=((1, 3),), spend=True)
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_imps",), controls=("ctrl_*",),
                      spend=("*_spend",))
    p = panel_from_frame(df, m)
    back = panel_to_frame(p, region="region", time="week")
    pd.testing.assert_frame_equal(back, df[back.columns].reset_index(drop=True), check_dtype=False)
    again = panel_from_frame(back, p.column_mapping(region="region", time="week"))
    np.testing.assert_array_equal(again.spend, p.spend)
    s = panel_summary(p)
    json.dumps(s)  # serialisable
    assert s["observed_cells"] == 20 and s["missing_cells"] == 1
    assert s["incomplete_regions"] == [507] and s["incomplete_region_weeks"] == [6]
    assert s["columns"]["sales"]["max"] == df["sales"].max()
    assert s["columns"]["tv_spend"]["mean"] == pytest.approx(df["tv_spend"].mean())


def test_subset_methods_still_work(long_frame, small_mapping):
    p = panel_from_frame(long_frame(n_regions=3, n_weeks=6), small_mapping)
    assert p.subset_regions([0, 2]).n_regions == 2 and p.subset_weeks(1, 4).n_weeks == 3


# --------------------------------------------------------------------------- property test

@st.composite
def long_frames(draw):
    n_r = draw(st.integers(1, 4))
    n_t = draw(st.integers(1, 8))
    n_c = draw(st.integers(1, 3))
    n_k = draw(st.integers(0, 2))
    keep = draw(st.lists(st.booleans(), min_size=n_r * n_t, max_size=n_r * n_t).filter(any))
    use_dates = draw(st.booleans())
    regions = (draw(st.lists(st.text("abcxyz", min_size=1, max_size=3), min_size=n_r, max_size=n_r, unique=True))
               if draw(st.booleans()) else draw(st.lists(st.integers(-5, 10**6), min_size=n_r, max_size=n_r,
                                                          unique=True)))
    t0 = draw(st.integers(-3, 100))
    times = (list(pd.date_range("2020-01-06", periods=n_t, freq="7D")) if use_dates else list(range(t0, t0 + n_t)))
    finite = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
    nonneg = st.floats(0, 1e12, allow_nan=False, allow_infinity=False)
    rows = []
    for i, r in enumerate(regions):
        for t, w in enumerate(times):
            if keep[i * n_t + t]:
                row = {"g": r, "w": w, "y": draw(finite)}
                row.update({f"m{j}": draw(nonneg) for j in range(n_c)})
                row.update({f"k{j}": draw(finite) for j in range(n_k)})
                rows.append(row)
    df = pd.DataFrame(rows)
    perm = draw(st.permutations(range(len(df))))
    return df.iloc[list(perm)].reset_index(drop=True), n_c, n_k


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_frames())
def test_property_round_trip_reproduces_observed_values_and_mask(case):
    df, n_c, n_k = case
    m = ColumnMapping(region="g", time="w", target="y", media=tuple(f"m{j}" for j in range(n_c)),
                      controls=tuple(f"k{j}" for j in range(n_k)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        p = panel_from_frame(df, m)
    back = panel_to_frame(p, region="g", time="w")
    expected = df.sort_values(["g", "w"]).reset_index(drop=True)[back.columns]
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert p.mask.sum() == len(df)
    unobserved = ~p.mask
    assert (p.target[unobserved] == 0).all() and (p.media[unobserved] == 0).all()
    assert (p.controls[unobserved] == 0).all()


# --------------------------------------------------------------------------- shared data

SHARED_MAPPING = ColumnMapping(region="dmacode", time="weekid", target="target_visits",
                               media=("impressions_*",), controls=("control_*",))


def test_shared_csv_panel(shared_csv):
    p = panel_from_csv(shared_csv, SHARED_MAPPING)
    s = panel_summary(p)
    assert (s["n_regions"], s["n_weeks"], s["n_channels"], s["n_controls"]) == (190, 109, 13, 7)
    assert s["missing_cells"] == 340 and s["observed_cells"] == 20370
    assert s["incomplete_regions"] == [509, 518, 734, 744, 766, 801]
    assert list(p.times) == list(range(109))

    raw = pd.read_csv(shared_csv)
    ri = np.searchsorted(p.regions, raw["dmacode"].to_numpy())
    ti = raw["weekid"].to_numpy()
    # every observed value equals the CSV's; nothing invented in masked cells
    np.testing.assert_array_equal(p.target[ri, ti], raw["target_visits"].to_numpy(dtype=float))
    np.testing.assert_array_equal(p.media[ri, ti], raw[list(p.channels)].to_numpy(dtype=float))
    np.testing.assert_array_equal(p.controls[ri, ti], raw[list(p.control_names)].to_numpy(dtype=float))
    assert p.mask.sum() == len(raw)
    miss = ~p.mask
    assert (p.target[miss] == 0).all() and (p.media[miss] == 0).all() and (p.controls[miss] == 0).all()
    r509 = list(p.regions).index(509)
    assert p.mask[r509, :14].all() and not p.mask[r509, 14:].any()
