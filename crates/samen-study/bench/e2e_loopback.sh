#!/usr/bin/env bash
# End-to-end benchmark of `samen run`: three processes over mutual TLS on loopback.
#
#   crates/samen-study/bench/e2e_loopback.sh [SAMEN_BINARY] [RESIDENTS] [USERS] [WORKDIR]
#
# Defaults: target/release/samen, 1000000 register rows, 400000 usage rows, a fresh temp dir.
# Generates synthetic data with `samen synth mijnoverheid`, writes a study with a 12×3 count
# table (province × channel) and a 12-cell mean (logins by province), runs the three parties
# concurrently and prints, per party, wall time, time per phase, bytes sent per peer and peak
# memory (from each party's OUT/<party>-summary.json; peak = VmHWM of the process).
set -euo pipefail

SAMEN=${1:-target/release/samen}
RESIDENTS=${2:-1000000}
USERS=${3:-400000}
WORK=${4:-$(mktemp -d)}
mkdir -p "$WORK"
SAMEN=$(realpath "$SAMEN")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(free_port); P2=$(free_port); P3=$(free_port)

"$SAMEN" synth mijnoverheid --residents "$RESIDENTS" --users "$USERS" --out "$WORK/data" >/dev/null
PROVINCES=$(python3 - "$WORK/data/study.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r'province\s*=\s*\{[^}]*levels\s*=\s*(\[[^\]]*\])', text)
print(m.group(1))
PY
)
cat > "$WORK/study.toml" <<TOML
[study]
name = "e2e-benchmark"

[parties.bureau]
address = "127.0.0.1:$P1"
[parties.portal]
address = "127.0.0.1:$P2"
[parties.trustee]
address = "127.0.0.1:$P3"
role = "helper"

[tables.register]
party = "bureau"
id = { column = "bsn", kind = "bsn" }
columns.province = { kind = "category", levels = $PROVINCES }

[tables.usage]
party = "portal"
id = { column = "bsn", kind = "bsn" }
columns.channel = { kind = "category", levels = ["app", "web", "machtiging"] }
columns.logins = { kind = "integer", min = 0, max = 10000 }

[[outputs]]
name = "users_by_province_channel"
statistic = "count"
by = ["register.province", "usage.channel"]

[[outputs]]
name = "mean_logins_by_province"
statistic = "mean"
of = "usage.logins"
by = ["register.province"]
TOML

"$SAMEN" certs --study "$WORK/study.toml" --out "$WORK/certs" 2>/dev/null
run() {
  local party=$1; shift
  "$SAMEN" run --study "$WORK/study.toml" --party "$party" --certs "$WORK/certs" \
    --out "$WORK/out-$party" --quiet "$@" 2>"$WORK/$party.log"
}
START=$(date +%s.%N)
run trustee & H=$!
run portal --input "usage=$WORK/data/usage.csv" & P=$!
run bureau --input "register=$WORK/data/register.csv" & B=$!
FAIL=0
wait $B || FAIL=1; wait $P || FAIL=1; wait $H || FAIL=1
END=$(date +%s.%N)
if [ $FAIL -ne 0 ]; then
  echo "a party failed:"; tail -n 5 "$WORK"/*.log; exit 1
fi
echo "end-to-end wall time: $(python3 -c "print(f'{$END-$START:.2f}')") s  (data in $WORK)"
python3 - "$WORK" <<'PY'
import json, sys, os
work = sys.argv[1]
for party in ["bureau", "portal", "trustee"]:
    s = json.load(open(os.path.join(work, f"out-{party}", f"{party}-summary.json")))
    phases = ", ".join(f"{p['name']} {p['seconds']:.2f}s" for p in s["phases"])
    sent = ", ".join(f"{k} {v/1e6:.1f} MB" for k, v in s["bytes_sent"].items())
    mem = s.get("peak_rss_bytes") or 0
    print(f"{party:8} total {s['total_seconds']:.2f}s | {phases} | sent: {sent} | peak {mem/2**20:.0f} MiB")
PY
