"""What the Python tests compare output directories with: file digests, and summary.json and
config.resolved.yaml without what differs between identical runs (timings, provenance)."""
import hashlib
import json


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def comparable_summary(path, drop=(), drop_network=()):
    """summary.json without timing, git_hash, l5sim_version and the keys in `drop` (and
    `drop_network` of its network section)."""
    with open(path) as f:
        s = json.load(f)
    for k in ("timing", "git_hash", "l5sim_version") + tuple(drop):
        s.pop(k, None)
    for k in drop_network:
        s["network"].pop(k, None)
    return s


def comparable_config(path):
    """config.resolved.yaml's lines without the command, the git hash, threads and comments."""
    with open(path) as f:
        return [x for x in f if not x.lstrip().startswith(("command:", "git_hash:", "threads:",
                                                           "#"))]
