"""`python -m distill.bench --quick` runs every benchmark and writes bench.json (no timing is asserted)."""

import json

from distill import bench


def test_quick_bench_writes_every_row(tmp_path, capsys):
    bench.main(["--quick", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "bench.json").read_text())
    names = {r["benchmark"] for r in rows}
    assert names >= {"decode_vs_paper_loop", "decode_vs_generate", "ilql_decode_vs_paper_loop", "train_vs_pad_to_longest",
                     "train_vs_hf_trainer", "teacher_vs_sequential", "train_mfu"}
    assert {r["setting"] for r in rows if r["benchmark"] == "decode_vs_paper_loop"} == {"batch 1, 32 problems",
                                                                                       "batch 16, 32 problems"}
    for r in rows:
        assert set(r) == {"benchmark", "ours", "baseline", "unit", "ratio", "setting"}
        assert r["ours"] > 0 and (r["ratio"] is None or r["ratio"] > 0)
    assert "bench.json in" in capsys.readouterr().out
