"""One test per validation error: the exception type and a message that names the column/rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.config import DataConfig
from causalmmm_jax.data import ColumnMapping, check_split_feasible, panel_from_csv, panel_from_frame, split_sizes
from causalmmm_jax.errors import DataError, UserError


def build(df, mapping, **kw):
    return panel_from_frame(df, mapping, **kw)


def test_data_error_is_a_user_error():
    assert issubclass(DataError, UserError)


# --------------------------------------------------------------------------- files

def test_empty_file(tmp_path, small_mapping):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty") as e:
        panel_from_csv(path, small_mapping)
    assert "empty.csv" in str(e.value)


def test_header_only(tmp_path, small_mapping):
    path = tmp_path / "head.csv"
    path.write_text("region,week,sales,tv_imps,ctrl_1\n")
    with pytest.raises(DataError, match="no data rows"):
        panel_from_csv(path, small_mapping)


def test_empty_frame(small_mapping):
    with pytest.raises(DataError, match="no rows"):
        build(pd.DataFrame({"region": [], "week": []}), small_mapping)


def test_file_not_found(tmp_path, small_mapping):
    path = tmp_path / "nope" / "data.csv"
    with pytest.raises(DataError, match="not found") as e:
        panel_from_csv(path, small_mapping)
    assert str(path) in str(e.value)


def test_wrong_delimiter(tmp_path, long_frame, small_mapping):
    path = tmp_path / "semi.csv"
    long_frame(n_regions=1, n_weeks=3).to_csv(path, sep=";", index=False)
    with pytest.raises(DataError, match="separated by ';'") as e:
        panel_from_csv(path, small_mapping)
    assert "--sep" in str(e.value)
    assert panel_from_csv(path, small_mapping, sep=";").n_weeks == 3


# --------------------------------------------------------------------------- mapping

def test_missing_column_lists_available(long_frame):
    df = long_frame(n_regions=1, n_weeks=3)
    m = ColumnMapping(region="region", time="week", target="revenue", media=("tv_imps",))
    with pytest.raises(DataError) as e:
        build(df, m)
    msg = str(e.value)
    assert "'revenue'" in msg and "not found" in msg and "Available columns" in msg and "'sales'" in msg


def test_pattern_matching_nothing(long_frame):
    df = long_frame(n_regions=1, n_weeks=3)
    m = ColumnMapping(region="region", time="week", target="sales", media=("impressions_*",))
    with pytest.raises(DataError, match=r"media pattern 'impressions_\*' matches no column") as e:
        build(df, m)
    assert "'tv_imps'" in str(e.value)


def test_column_in_two_roles(long_frame):
    df = long_frame(n_regions=1, n_weeks=3)
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_imps",), controls=("tv_imps",))
    with pytest.raises(DataError, match="'tv_imps' is used as media and controls"):
        build(df, m)


def test_spend_only_column_is_media_and_spend(long_frame):
    """Spend-only data: the same columns as media and as spend (paired by order)."""
    df = long_frame(n_regions=2, n_weeks=4, spend=True)
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_spend",), spend=("*_spend",))
    p = build(df, m)
    assert p.channels == p.spend_columns == ("tv_spend", "radio_spend")
    np.testing.assert_array_equal(p.spend, p.media)
    assert p.media[0, 0, 0] == df["tv_spend"].iloc[0]


def test_spend_only_bad_values_reported_once(long_frame):
    df = long_frame(n_regions=1, n_weeks=4, spend=True)
    df.loc[2, "tv_spend"] = -1.0
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_spend",), spend=("*_spend",))
    with pytest.raises(DataError) as e:
        build(df, m)
    msg = str(e.value)
    assert msg.count("'tv_spend'") == 1 and "media column 'tv_spend' has 1 negative value(s)" in msg


def test_spend_column_of_another_channels_media(long_frame):
    df = long_frame(n_regions=1, n_weeks=3, spend=True)
    m = ColumnMapping(region="region", time="week", target="sales", media=("tv_spend", "radio_spend"),
                      spend=("radio_spend", "tv_spend"))
    with pytest.raises(DataError, match="media column 'tv_spend' is paired with spend column 'radio_spend'"):
        build(df, m)


def test_spend_overlapping_controls_is_still_an_error(long_frame):
    df = long_frame(n_regions=1, n_weeks=3, spend=True)
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_spend",), spend=("*_spend",),
                      controls=("tv_spend",))
    with pytest.raises(DataError, match="'tv_spend' is used as media and controls and spend"):
        build(df, m)


def test_target_matched_by_media_pattern(long_frame):
    df = long_frame(n_regions=1, n_weeks=3)
    m = ColumnMapping(region="region", time="week", target="sales", media=("s*",))
    with pytest.raises(DataError, match="'sales' is used as target and media"):
        build(df, m)


def test_no_media(long_frame):
    m = ColumnMapping(region="region", time="week", target="sales", media=())
    with pytest.raises(DataError, match="no media columns"):
        build(long_frame(n_regions=1, n_weeks=3), m)


def test_spend_count_mismatch_lists_both(long_frame):
    df = long_frame(n_regions=1, n_weeks=3, spend=True)
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_imps",), spend=("tv_spend",))
    with pytest.raises(DataError, match="1 spend column") as e:
        build(df, m)
    assert "'tv_spend'" in str(e.value) and "'radio_imps'" in str(e.value)


def test_duplicate_column_names(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=3)
    df.columns = ["region", "week", "sales", "tv_imps", "tv_imps", "ctrl_1"]
    with pytest.raises(DataError, match="'tv_imps'.*more than once"):
        build(df, small_mapping)


def test_invalid_missing_media_option(long_frame, small_mapping):
    with pytest.raises(DataError, match="missing_media"):
        build(long_frame(n_regions=1, n_weeks=3), small_mapping, missing_media="drop")


# --------------------------------------------------------------------------- values

def test_non_numeric_media_shows_examples(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df["tv_imps"] = df["tv_imps"].astype(object)
    df.loc[4, "tv_imps"] = "1,200"
    with pytest.raises(DataError) as e:
        build(df, small_mapping)
    msg = str(e.value)
    assert "'tv_imps'" in msg and "row 5: '1,200'" in msg and "numeric" in msg and "line n+1" in msg


def test_nan_target(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df.loc[[1, 3], "sales"] = np.nan
    with pytest.raises(DataError, match=r"target column 'sales' has 2 missing.*rows 2, 4.*drop the rows"):
        build(df, small_mapping)


def test_nan_target_not_allowed_even_with_missing_media_zero(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df.loc[1, "sales"] = np.nan
    with pytest.raises(DataError, match="'sales'"):
        build(df, small_mapping, missing_media="zero")


def test_nan_control(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df.loc[0, "ctrl_1"] = np.nan
    with pytest.raises(DataError, match=r"control column 'ctrl_1' has 1 missing.*row 1\b"):
        build(df, small_mapping)


def test_nan_media_mentions_missing_media_zero(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df.loc[2, "radio_imps"] = np.nan
    with pytest.raises(DataError, match=r"media column 'radio_imps'") as e:
        build(df, small_mapping)
    assert "missing_media='zero'" in str(e.value) and "--missing-media zero" in str(e.value)


def test_nan_spend(long_frame):
    df = long_frame(n_regions=1, n_weeks=6, spend=True)
    df.loc[2, "tv_spend"] = np.nan
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_imps",), spend=("*_spend",))
    with pytest.raises(DataError, match=r"spend column 'tv_spend'.*missing_media='zero'"):
        build(df, m)
    assert build(df, m, missing_media="zero").spend[0, 2, 0] == 0.0


def test_inf_control(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df.loc[3, "ctrl_1"] = np.inf
    with pytest.raises(DataError, match=r"control column 'ctrl_1' has 1 infinite value.*row 4"):
        build(df, small_mapping)


def test_inf_media_even_with_missing_media_zero(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df.loc[3, "tv_imps"] = -np.inf
    with pytest.raises(DataError, match=r"'tv_imps' has 1 infinite"):
        build(df, small_mapping, missing_media="zero")


def test_negative_media(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df.loc[5, "tv_imps"] = -3.0
    with pytest.raises(DataError, match=r"media column 'tv_imps' has 1 negative value.*row 6: -3.0"):
        build(df, small_mapping)


def test_negative_spend(long_frame):
    df = long_frame(n_regions=1, n_weeks=6, spend=True)
    df.loc[0, "radio_spend"] = -1.0
    m = ColumnMapping(region="region", time="week", target="sales", media=("*_imps",), spend=("*_spend",))
    with pytest.raises(DataError, match=r"spend column 'radio_spend' has 1 negative"):
        build(df, m)


def test_several_problems_reported_together(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=6)
    df.loc[0, "sales"] = np.nan
    df.loc[1, "tv_imps"] = -1.0
    with pytest.raises(DataError, match="2 problems") as e:
        build(df, small_mapping)
    assert "'sales'" in str(e.value) and "'tv_imps'" in str(e.value)


# --------------------------------------------------------------------------- keys

def test_duplicate_region_week_rows(long_frame, small_mapping):
    df = long_frame(n_regions=2, n_weeks=4)
    df = pd.concat([df, df.iloc[[5]]], ignore_index=True)
    with pytest.raises(DataError, match=r"\(region, week\) pair.*region=507, week=2 at rows 6, 9"):
        build(df, small_mapping)


def test_empty_region(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=4)
    df["region"] = df["region"].astype(float)
    df.loc[2, "region"] = np.nan
    with pytest.raises(DataError, match=r"region column 'region' has 1 empty value.*row 3"):
        build(df, small_mapping)


def test_empty_time(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=4)
    df["week"] = df["week"].astype(float)
    df.loc[1, "week"] = np.nan
    with pytest.raises(DataError, match=r"time column 'week' has 1 empty value.*row 2"):
        build(df, small_mapping)


def test_unparseable_time(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=4)
    df["week"] = ["2023-01-02", "2023-01-09", "soon", "2023-01-23"]
    with pytest.raises(DataError, match=r"time column 'week'.*row 3: 'soon'"):
        build(df, small_mapping)


def test_mixed_date_formats(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=4)
    df["week"] = ["2023-01-02", "2023-01-09", "01/16/2023", "2023-01-23"]
    with pytest.raises(DataError, match=r"time column 'week'.*row 3: '01/16/2023'.*one date format"):
        build(df, small_mapping)


def test_irregular_date_steps(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=4)
    df["week"] = pd.to_datetime(["2023-01-02", "2023-01-09", "2023-01-12", "2023-01-23"])
    with pytest.raises(DataError, match=r"time column 'week' has irregular date steps.*2023-01-09 -> 2023-01-12"):
        build(df, small_mapping)


def test_monthly_dates_are_irregular(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=4)
    df["week"] = pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01"])
    with pytest.raises(DataError, match="'week' has irregular date steps"):
        build(df, small_mapping)


def test_non_integer_numeric_time(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=4)
    df["week"] = [1.0, 2.0, 2.5, 4.0]
    with pytest.raises(DataError, match=r"time column 'week' has non-integer.*row 3: 2.5"):
        build(df, small_mapping)


def test_yyyymmdd_integers_are_refused(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=20)
    df["week"] = pd.date_range("2023-01-02", periods=20, freq="7D").strftime("%Y%m%d").astype(int)
    with pytest.raises(DataError, match=r"time column 'week'.*YYYY-MM-DD"):
        build(df, small_mapping)


def test_duplicate_dates_shown_as_dates(long_frame, small_mapping):
    df = long_frame(n_regions=1, n_weeks=3, dates=True, str_regions=True)
    df = pd.concat([df, df.iloc[[1]]], ignore_index=True)
    with pytest.raises(DataError, match=r"region='r00', week=2023-01-09 at rows 2, 4"):
        build(df, small_mapping)


def test_mixed_region_types(long_frame, small_mapping):
    df = long_frame(n_regions=2, n_weeks=2)
    df["region"] = pd.Series(["a", "a", 3, 3], dtype=object)
    with pytest.raises(DataError, match="region column 'region' mixes"):
        build(df, small_mapping)


# --------------------------------------------------------------------------- split

def test_split_sizes_on_109_weeks():
    assert check_split_feasible(109, DataConfig()) == (88, 8, 13)  # default: 8 validation weeks
    assert check_split_feasible(109, DataConfig(validation_weeks=0)) == (96, 0, 13)
    assert split_sizes(109, DataConfig(holdout_weeks=10, validation_weeks=8)) == (91, 8, 10)


def test_split_too_few_train_weeks():
    with pytest.raises(DataError, match=r"35 training weeks.*data.min_train_weeks=40"):
        check_split_feasible(40, DataConfig(holdout_weeks=5, validation_weeks=0))


def test_split_nothing_left_to_train():
    with pytest.raises(DataError, match="leave no training weeks"):
        check_split_feasible(20, DataConfig(holdout_weeks=12, validation_weeks=8, min_train_weeks=1))


def test_split_small_but_feasible():
    assert check_split_feasible(10, DataConfig(holdout_ratio=0.2, min_train_weeks=8, validation_weeks=0)) == (8, 0, 2)
