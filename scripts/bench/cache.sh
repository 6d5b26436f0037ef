#!/usr/bin/env bash
# Token-cache benchmarks, mailoauth (Rust) and MSAL Python side by side in one run, against
# one emulator process over HTTPS with keep-alive. Prints both and the ratios.
# Not part of the test command. Needs network access to PyPI once (msal into a venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d)
trap 'kill "${EMU_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

MSAL_VERSION=1.39.0
VENV=${BENCH_VENV:-$PWD/target/bench-venv}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q "msal==$MSAL_VERSION" certifi

cargo build -q --release -p mailoauth-emulator
cargo bench -q -p mailoauth --bench cache --no-run
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
"$TARGET/release/mailoauth-emulator" --https --ca-out "$WORK/ca.pem" > "$WORK/url" 2>"$WORK/emu.log" &
EMU_PID=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.05; done
URL=$(head -1 "$WORK/url")
cat "$("$VENV/bin/python" -c 'import certifi; print(certifi.where())')" "$WORK/ca.pem" > "$WORK/bundle.pem"

echo "emulator: $URL" >&2
cargo bench -q -p mailoauth --bench cache -- "$URL" "$WORK/ca.pem" | tee "$WORK/results"
REQUESTS_CA_BUNDLE="$WORK/bundle.pem" "$VENV/bin/python" scripts/bench/cache_msal.py "$URL" | tee -a "$WORK/results"

python3 - "$WORK/results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
get = lambda impl, op: next(r for r in rows if r["impl"] == impl and r["op"] == op)
for op, unit in (("silent_hit", "us"), ("refresh", "ms"), ("bare_post", "ms")):
    a, b = get("mailoauth-rust", op), get("msal-python", op)
    print(f"{op:11s} median: mailoauth {a['median_'+unit]:.3f} {unit}, MSAL Python {b['median_'+unit]:.3f} {unit}"
          f" -> {b['median_'+unit]/a['median_'+unit]:.1f}x faster; min {a['min_'+unit]:.3f} vs {b['min_'+unit]:.3f} {unit}")
r, m = get("mailoauth-rust", "refresh"), get("msal-python", "refresh")
rb, mb = get("mailoauth-rust", "bare_post"), get("msal-python", "bare_post")
print(f"client overhead above a bare POST (median): mailoauth {r['median_ms']-rb['median_ms']:.3f} ms, "
      f"MSAL Python {m['median_ms']-mb['median_ms']:.3f} ms")
PY
