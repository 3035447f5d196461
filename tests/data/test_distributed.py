"""Reading only one process's regions (the multi-process fit's data path; the two-process fit itself
runs in tests/examples)."""

import io

import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.data.distributed import gather_frame, load_panel, process_regions, read_process_rows
from causalmmm_jax.data.load import panel_from_frame
from causalmmm_jax.data.synthetic import generate
from causalmmm_jax.errors import DataError


def test_process_regions_are_contiguous_even_blocks_of_the_sorted_ids():
    ids = [f"r{i:02d}" for i in range(11)][::-1]
    blocks = [process_regions(ids, i, 3) for i in range(3)]
    assert [len(b) for b in blocks] == [4, 4, 3]
    assert sum(blocks, []) == sorted(ids)


@pytest.fixture(scope="module")
def data():
    return generate(2, n_regions=7, n_weeks=30, n_channels=2, n_controls=1)


def test_each_process_reads_only_its_regions_of_a_csv(data, tmp_path):
    path = tmp_path / "panel.csv"
    data.frame.to_csv(path, index=False)
    region = data.mapping.region
    parts = [read_process_rows(path, data.mapping, index=i, count=2, chunksize=25) for i in range(2)]
    assert [p[region].nunique() for p in parts] == [4, 3]
    assert not set(parts[0][region]) & set(parts[1][region])
    # the rows come as text; parsed once over all of them they build the panel one process reads
    assert all(pd.api.types.is_string_dtype(dt) for dt in parts[0].dtypes)
    text = pd.concat(parts, ignore_index=True).to_csv(index=False)
    whole = panel_from_frame(pd.read_csv(io.StringIO(text)), data.mapping)
    alone = panel_from_frame(pd.read_csv(path), data.mapping)
    assert whole.regions.tolist() == alone.regions.tolist()
    np.testing.assert_array_equal(whole.media, alone.media)
    np.testing.assert_array_equal(whole.target, alone.target)


def test_a_region_partitioned_directory_is_split_by_files(data, tmp_path):
    region = data.mapping.region
    for i, (_, rows) in enumerate(data.frame.groupby(region)):
        rows.to_csv(tmp_path / f"part_{i:02d}.csv", index=False)
    (tmp_path / "notes.txt").write_text("not data")
    parts = [read_process_rows(tmp_path, data.mapping, index=i, count=3) for i in range(3)]
    assert [p[region].nunique() for p in parts] == [3, 2, 2]
    # one process: gather_frame is the identity and load_panel reads everything
    assert gather_frame(parts[0]) is parts[0]
    assert load_panel(tmp_path, data.mapping).n_regions == 7


def test_chunks_do_not_change_types_or_drop_rows(tmp_path):
    """Region ids that a chunk alone would read as numbers and another as text (or with a blank id):
    read as text and parsed once, every row is kept and the outcome is one process's."""
    rows = ["region,week,kpi,tv"] + [f"{r},{w},{10 + w},{w % 3}" for r in (1, 2) for w in range(30)] + \
        [f"A,{w},{20 + w},1" for w in range(30)]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(rows) + "\n")
    from causalmmm_jax.data.panel import ColumnMapping

    mapping = ColumnMapping(region="region", time="week", target="kpi", media=("tv",))
    parts = [read_process_rows(path, mapping, index=i, count=2, chunksize=7) for i in range(2)]
    assert sum(len(p) for p in parts) == 90
    assert load_panel(path, mapping).regions.tolist() == panel_from_frame(pd.read_csv(path), mapping).regions.tolist()


def test_missing_source_and_region_column_are_named(data, tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_process_rows(tmp_path / "nope.csv", data.mapping, index=0, count=2)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="region column"):
        read_process_rows(tmp_path / "x.csv", data.mapping, index=0, count=2)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no .csv files"):
        read_process_rows(empty, data.mapping, index=0, count=2)
