#!/usr/bin/env bash
# The Python package against MSAL Python, side by side in one run (same machine, same
# emulator over HTTPS): `import` time, installed size, silent cache hit, refresh round trip.
# Prints both and the ratios (the figures in bindings-python/README.md come from here).
# Not part of the test command. Needs PyPI (maturin, msal into throw-away venvs).
#
#   scripts/bench/python.sh            # N=30 import runs by default; BENCH_RUNS=50 for more
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'kill "${EMU_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
MSAL_VERSION=1.39.0
MSAL_EXTENSIONS_VERSION=1.3.1
RUNS=${BENCH_RUNS:-30}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
log() { printf '== bench: %s\n' "$*" >&2; }

site_kib() { du -sk "$("$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" | cut -f1; }

log "build the wheel pip builds (maturin build: profile python-release from pyproject.toml) and the release emulator"
python3 -m venv "$WORK/tools"
"$WORK/tools/bin/pip" install -q --disable-pip-version-check -r bindings-python/requirements-dev.txt
"$WORK/tools/bin/maturin" build --locked -q -m bindings-python/Cargo.toml -o "$WORK/wheels" >&2
cargo build -q --release --locked -p mailoauth-emulator
WHEEL=$(ls "$WORK"/wheels/mailoauth-*.whl)

log "installed size: fresh venvs, site-packages growth"
for name in mailoauth msal msal-ext; do python3 -m venv "$WORK/$name"; done
base=$(site_kib "$WORK/mailoauth")
"$WORK/mailoauth/bin/pip" install -q --disable-pip-version-check "$WHEEL"
"$WORK/msal/bin/pip" install -q --disable-pip-version-check "msal==$MSAL_VERSION" certifi
"$WORK/msal-ext/bin/pip" install -q --disable-pip-version-check "msal==$MSAL_VERSION" "msal-extensions==$MSAL_EXTENSIONS_VERSION"
{
  echo "{\"op\":\"size\",\"impl\":\"mailoauth\",\"kib\":$(( $(site_kib "$WORK/mailoauth") - base ))}"
  echo "{\"op\":\"size\",\"impl\":\"msal\",\"kib\":$(( $(site_kib "$WORK/msal-ext") - base ))}"
  echo "{\"op\":\"size\",\"impl\":\"wheel\",\"kib\":$(( $(stat -c %s "$WHEEL") / 1024 ))}"
} > "$WORK/results"

log "import time: python -X importtime, min over $RUNS runs each (interleaved)"
"$WORK/msal/bin/pip" install -q --disable-pip-version-check "$WHEEL"
PY="$WORK/msal/bin/python"
"$PY" - "$RUNS" >> "$WORK/results" <<'PY'
import json, subprocess, sys, time
runs = int(sys.argv[1])
def importtime(module):
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                         capture_output=True, text=True, check=True).stderr
    # the last line is the top-level package: "import time: self | cumulative | name"
    line = [l for l in err.splitlines() if l.rstrip().endswith(f"| {module}")][-1]
    return int(line.split("|")[1]) / 1000
def wall(code):
    t = time.perf_counter(); subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - t) * 1000
res = {"mailoauth": [], "msal": []}
walls = {"pass": [], "mailoauth": [], "msal": []}
for _ in range(runs):
    for m in ("mailoauth", "msal"):
        res[m].append(importtime(m))
        walls[m].append(wall(f"import {m}"))
    walls["pass"].append(wall("pass"))
for m in ("mailoauth", "msal"):
    print(json.dumps({"op": "import", "impl": m, "min_ms": min(res[m]), "median_ms": sorted(res[m])[runs // 2],
                      "wall_min_ms": min(walls[m]), "python_pass_min_ms": min(walls["pass"])}))
PY

log "silent cache hit and refresh round trip against one emulator over HTTPS (keep-alive)"
"$TARGET/release/mailoauth-emulator" --https --ca-out "$WORK/ca.pem" > "$WORK/url" 2>"$WORK/emu.log" &
EMU_PID=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.05; done
URL=$(head -1 "$WORK/url")
cat "$("$PY" -c 'import certifi; print(certifi.where())')" "$WORK/ca.pem" > "$WORK/bundle.pem"
"$PY" scripts/bench/python_bench.py mailoauth "$URL" "$WORK/ca.pem" >> "$WORK/results"
REQUESTS_CA_BUNDLE="$WORK/bundle.pem" "$PY" scripts/bench/python_bench.py msal "$URL" "$WORK/ca.pem" >> "$WORK/results"

python3 - "$WORK/results" "$MSAL_VERSION" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
get = lambda op, impl: next(r for r in rows if r["op"] == op and r["impl"] == impl)
print(f"mailoauth (this tree) vs msal {sys.argv[2]} (+ msal-extensions for the size), same machine, same run")
i, j = get("import", "mailoauth"), get("import", "msal")
print(f"import (-X importtime, min)   mailoauth {i['min_ms']:.1f} ms   msal {j['min_ms']:.1f} ms   "
      f"-> {j['min_ms'] / i['min_ms']:.0f}x less")
print(f"import (whole process, min)   mailoauth {i['wall_min_ms']:.1f} ms   msal {j['wall_min_ms']:.1f} ms   "
      f"(python -c pass: {i['python_pass_min_ms']:.1f} ms)")
a, b, w = get("size", "mailoauth"), get("size", "msal"), get("size", "wheel")
print(f"installed size                mailoauth {a['kib']} KiB   msal+deps {b['kib']} KiB   "
      f"-> {b['kib'] / a['kib']:.1f}x smaller (wheel {w['kib']} KiB)")
for op, unit in (("silent_hit", "us"), ("refresh", "ms")):
    a, b = get(op, "mailoauth"), get(op, "msal")
    print(f"{op:12s} (median)       mailoauth {a['median_' + unit]:.3f} {unit}   msal {b['median_' + unit]:.3f} {unit}   "
          f"-> {b['median_' + unit] / a['median_' + unit]:.1f}x faster (min {a['min_' + unit]:.3f} vs {b['min_' + unit]:.3f})")
PY
