"""Reads an MLflow file store (mlruns/) the way mlflow/store/tracking/file_store.py does,
without mlflow installed, and prints what it found as JSON: an independent check of the
layout FileStoreTracker writes. Usage: read_mlruns.py <mlruns dir>"""
import json
import math
import os
import sys

import yaml


def json_double(v):
    # JSON has no NaN or infinities; spell them as proto3 JSON does.
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def files_under(folder):
    """{relative path: content} of every file below folder (keys may contain '/')."""
    out = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            with open(path, encoding="utf-8") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def metric_rows(text):
    rows = []
    for line in text.splitlines():
        parts = line.strip().split(" ")
        if len(parts) not in (2, 3):
            raise ValueError(f"malformed metric line {line!r}")
        step = int(parts[2]) if len(parts) == 3 else 0
        rows.append([int(parts[0]), json_double(float(parts[1])), step])
    return rows


def read_meta(folder):
    """meta.yaml parsed, the Python type of each field, and whether the file is byte for byte
    what MLflow's write_yaml (PyYAML safe_dump, block style, sorted keys) makes of it."""
    with open(os.path.join(folder, "meta.yaml"), encoding="utf-8") as f:
        text = f.read()
    meta = yaml.safe_load(text)
    as_mlflow_writes = yaml.safe_dump(meta, default_flow_style=False, allow_unicode=True, sort_keys=True)
    return meta, {k: type(v).__name__ for k, v in meta.items()}, text == as_mlflow_writes


def main(root):
    experiments = {}
    for exp_id in sorted(os.listdir(root)):
        exp_dir = os.path.join(root, exp_id)
        if exp_id == ".trash" or not os.path.isdir(exp_dir):
            continue
        meta, types, canonical = read_meta(exp_dir)
        runs = {}
        for run_id in sorted(os.listdir(exp_dir)):
            run_dir = os.path.join(exp_dir, run_id)
            if not os.path.isdir(run_dir):
                continue
            run_meta, run_types, run_canonical = read_meta(run_dir)
            metrics = {k: metric_rows(v) for k, v in files_under(os.path.join(run_dir, "metrics")).items()}
            runs[run_id] = {
                "meta": run_meta,
                "types": run_types,
                "canonical": run_canonical,
                "entries": sorted(os.listdir(run_dir)),
                "metrics": metrics,
                "params": files_under(os.path.join(run_dir, "params")),
                "tags": files_under(os.path.join(run_dir, "tags")),
            }
        experiments[exp_id] = {"meta": meta, "types": types, "canonical": canonical, "runs": runs}
    print(json.dumps({"entries": sorted(os.listdir(root)), "experiments": experiments}))


if __name__ == "__main__":
    main(sys.argv[1])
