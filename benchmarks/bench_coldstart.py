"""`make bench`: what a Lambda cold start costs, next to what it could cost at least.

1. ``import app`` in fresh interpreters, as a ratio to a bare Chalice app
   that imports boto3 (what any Chalice app on AWS pays), run alternately
   side by side so both see the same machine. Target: at most 1.5x.
2. The first request to ``/`` and to ``/calendar.ics`` right after the
   import, each in its own fresh interpreter, on an in-memory repository
   holding the seed events (the imports and template compilation they
   trigger, not DynamoDB's latency). Seeding stores the feed's versions, as
   event writes do in AWS, so the feed's first poll serves stored bytes. A route
   that does not exist yet is reported as absent.
3. The size of dist/dev/deployment.zip, built by ``scripts/package.py``.
   Target: at most 2 MB.

Exit status 1 when a target is missed. RUNS (environment) sets the runs per
side (default 15).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("RUNS", "15"))
MAX_RATIO = 1.5
MAX_ZIP_MB = 2.0

BARE_APP = '''
import boto3
from chalice import Chalice

app = Chalice(app_name="bare")


@app.route("/")
def index():
    return {"hello": "world"}
'''

IMPORT_TIMER = '''
import sys, time
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
import app
imported = time.perf_counter()
if len(sys.argv) > 2:
    import boto3  # what the first request that talks to AWS adds
print((imported - started) * 1000, (time.perf_counter() - started) * 1000)
'''

FIRST_REQUESTS = '''
import json, sys, time
sys.path.insert(0, sys.argv[1])
import app
from chalice.test import Client
from chalicelib.ops.seed import seed
from tests.fakes import InMemoryRepository

repo = InMemoryRepository()
seed(repo)
from chalicelib import wiring
wiring.set_repo(repo)
result = {}
with Client(app.app, stage_name="local") as client:
    for path in sys.argv[2:]:
        if path not in app.app.routes:
            result[path] = None
            continue
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            response = client.http.get(path)
            timings.append((time.perf_counter() - started) * 1000)
        result[path] = {"status": response.status_code, "first_ms": timings[0], "second_ms": timings[1]}
print(json.dumps(result))
'''


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_DEFAULT_REGION="eu-west-1", STAGE="local", PYTHONDONTWRITEBYTECODE="1",
               TOKEN_KEY="bench-not-secret")  # no SSM lookup in a benchmark
    return env


def import_ms(directory: Path, *extra: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", IMPORT_TIMER, str(directory), *extra], cwd=directory,
                         env=clean_env(), capture_output=True, text=True, check=True)
    return [float(v) for v in out.stdout.strip().splitlines()[-1].split()]


def measure_imports() -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as bare_dir:
        Path(bare_dir, "app.py").write_text(BARE_APP)
        import_ms(REPO), import_ms(Path(bare_dir))  # warm the disk cache and the venv's bytecode
        ours, ours_boto3, bare = [], [], []
        for _ in range(RUNS):
            ours.append(import_ms(REPO)[0])
            bare.append(import_ms(Path(bare_dir))[0])
            ours_boto3.append(import_ms(REPO, "with-boto3")[1])
    return statistics.median(ours), statistics.median(bare), statistics.median(ours_boto3)


def measure_first_requests() -> dict:
    """Each path in its own fresh interpreter, so one cannot warm the other."""
    result = {}
    for path in ("/", "/calendar.ics"):
        out = subprocess.run([sys.executable, "-c", FIRST_REQUESTS, str(REPO), path], cwd=REPO, env=clean_env(),
                             capture_output=True, text=True, check=True)
        result.update(json.loads(out.stdout.strip().splitlines()[-1]))
    return result


def measure_zip() -> float:
    subprocess.run([sys.executable, str(REPO / "scripts" / "package.py"), "dev"], cwd=REPO,
                   env=clean_env(), check=True, capture_output=True)
    return (REPO / "dist" / "dev" / "deployment.zip").stat().st_size / 1024 / 1024


def main() -> int:
    ours, bare, ours_boto3 = measure_imports()
    ratio = ours / bare
    print(f"import app:        {ours:7.1f} ms median of {RUNS} fresh interpreters")
    print(f"bare chalice+boto3:{bare:7.1f} ms median of {RUNS}, side by side")
    print(f"app, then boto3:   {ours_boto3:7.1f} ms ({ours_boto3 / bare:.2f}x): what the first request touching AWS has paid")
    print(f"ratio:             {ratio:7.2f}x  (target <= {MAX_RATIO}x)  {'ok' if ratio <= MAX_RATIO else 'MISSED'}")
    requests = measure_first_requests()
    for path, timing in requests.items():
        if timing is None:
            print(f"first GET {path:14} absent on this branch")
        else:
            print(f"first GET {path:14} {timing['first_ms']:7.1f} ms (then {timing['second_ms']:.1f} ms), status {timing['status']}")
    size = measure_zip()
    print(f"deployment.zip:    {size:7.2f} MiB (target <= {MAX_ZIP_MB} MiB)  {'ok' if size <= MAX_ZIP_MB else 'MISSED'}")
    print(json.dumps({"import_app_ms": round(ours, 1), "bare_ms": round(bare, 1), "ratio": round(ratio, 2),
                      "import_app_then_boto3_ms": round(ours_boto3, 1),
                      "first_requests": requests, "deployment_zip_mib": round(size, 2)}))
    return 0 if ratio <= MAX_RATIO and size <= MAX_ZIP_MB else 1


if __name__ == "__main__":
    sys.exit(main())
