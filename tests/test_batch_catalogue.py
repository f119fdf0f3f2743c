"""Catalogue partitions (Parquet, FITS, CSV) and the partitioned Parquet output, without Dask."""
import numpy as np
import pandas as pd
import pytest

from kinview.batch.catalogue import CatalogueError, plan_catalogue, read_partition
from kinview.batch.output import done_parts, open_output, read_output, write_part
from kinview.errors import KinviewError

N = 23


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(1)
    return pd.DataFrame({"objID": 1237648720693755000 + np.arange(N, dtype=np.int64) * 7,
                         "RA": rng.uniform(0, 360, N), "Dec": rng.uniform(-10, 60, N),
                         "petroMag_r": rng.uniform(14, 17.7, N)})


def _write(table, path):
    if path.suffix == ".parquet":
        table.to_parquet(path, row_group_size=5)         # partitions straddle row groups
    elif path.suffix == ".fits":
        from astropy.table import Table

        Table.from_pandas(table).write(path)
    else:
        table.to_csv(path, index=False, lineterminator="\r\n")   # Windows line ends
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".csv"])
def test_partitions_read_every_row_once_in_order_in_every_format(tmp_path, table, suffix):
    path = _write(table, tmp_path / f"cat{suffix}")
    plan = plan_catalogue(path, partition_rows=4)
    assert plan.n_rows == N and plan.id_name == "objid" and plan.ra_column == "RA"
    assert [(p.start, p.stop) for p in plan.partitions][-1] == (20, 23)
    got = pd.concat([read_partition(plan, p) for p in plan.partitions], ignore_index=True)
    assert got["row"].tolist() == list(range(N))
    # 64-bit ids survive as full integers (no float rounding), positions as given
    assert got["id"].tolist() == [str(v) for v in table["objID"]]
    np.testing.assert_allclose(got["ra"], table["RA"])
    np.testing.assert_allclose(got["dec"], table["Dec"])


def test_csv_blank_line_is_a_row_without_id_and_does_not_shift_later_partitions(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("plateifu,objra,objdec\n8485-1901,1.0,2.0\n\n8485-1902,3.0,4.0\n8485-1903,5,6\n")
    plan = plan_catalogue(path, partition_rows=2)
    got = pd.concat([read_partition(plan, p) for p in plan.partitions], ignore_index=True)
    assert got["id"].tolist() == ["8485-1901", "", "8485-1902", "8485-1903"]
    assert got["ra"].tolist()[2:] == [3.0, 5.0]


def test_bad_catalogues_are_one_clear_error(tmp_path, table):
    with pytest.raises(CatalogueError, match="not found"):
        plan_catalogue(tmp_path / "none.parquet")
    (tmp_path / "x.txt").write_text("a b\n")
    with pytest.raises(CatalogueError, match="unknown catalogue format"):
        plan_catalogue(tmp_path / "x.txt")
    table.drop(columns="objID").to_parquet(tmp_path / "noid.parquet")
    with pytest.raises(CatalogueError, match="no id column"):
        plan_catalogue(tmp_path / "noid.parquet")
    (tmp_path / "empty.csv").write_text("objid,ra,dec\n")
    with pytest.raises(CatalogueError, match="no rows"):
        plan_catalogue(tmp_path / "empty.csv")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(CatalogueError, match="cannot read"):
        plan_catalogue(tmp_path / "junk.parquet")
    # a file that changed after planning is noticed, not silently misread
    path = _write(table, tmp_path / "c.csv")
    plan = plan_catalogue(path, partition_rows=10)
    table.iloc[:5].to_csv(path, index=False)
    with pytest.raises(CatalogueError, match="did the file change"):
        read_partition(plan, plan.partitions[-1])


def test_output_parts_resume_and_refuse_another_run(tmp_path):
    out = tmp_path / "pred.parquet"
    man = {"task": "spin", "model_sha256": "a", "catalogue_fingerprint": "f", "n_rows": 4,
           "partition_rows": 2}
    assert open_output(out, man) == set()
    df = pd.DataFrame({"row": [2, 3], "objid": ["1", "2"], "value": [0.1, 0.2]})
    write_part(out, 1, df, man, {"start": 2, "stop": 4})
    assert open_output(out, man) == {1}                          # resumable
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(KinviewError, match="another run.*model_sha256"):
        open_output(out, {**man, "model_sha256": "b"})
    assert done_parts(out) == {1}                                # nothing removed
    assert open_output(out, {**man, "model_sha256": "b"}, overwrite=True) == set()
    write_part(out, 0, df.assign(row=[0, 1]), man, {})
    import pyarrow.parquet as pq

    meta = pq.read_schema(out / "part-000000.parquet").metadata
    assert b"kinview" in meta
    assert read_output(out)["row"].tolist() == [0, 1]
    # pandas reads the directory as one table, ignoring the manifest and _common_metadata
    assert len(pd.read_parquet(out)) == 2
