"""Shared helpers for the Python tests: fixture paths and a small safetensors reader."""
import json
import os
import struct

import numpy as np
import pytest

DATA = os.environ.get("TALKIE_TEST_DATA_DIR",
                      os.path.join(os.path.dirname(__file__), "..", "data"))
MODELS = os.path.join(DATA, "model", "models")
EXPECTED = os.path.join(DATA, "model", "expected")

_DTYPES = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "F64": np.float64}


def read_safetensors(path):
    """name -> numpy array, for the F32 / I64 files of the oracle."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        out[name] = np.frombuffer(blob[base + start: base + end],
                                  dtype=_DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def manifest():
    with open(os.path.join(DATA, "model", "manifest.json")) as f:
        return json.load(f)


def assert_close(ours, ref, what=""):
    """The project's tolerance: max |ours - ref| <= 1e-4 * max(1, max |ref|)."""
    ours = np.asarray(ours, dtype=np.float32)
    ref = np.asarray(ref, dtype=np.float32)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs {ref.shape}"
    tol = 1e-4 * max(1.0, float(np.abs(ref).max()))
    diff = float(np.abs(ours - ref).max())
    assert diff <= tol, f"{what}: max diff {diff} > {tol}"


@pytest.fixture(scope="session")
def talkie():
    import talkie as t
    return t
