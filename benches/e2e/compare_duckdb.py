#!/usr/bin/env python3
"""End-to-end cost of a samen study compared with the same tables computed in the clear.

    python3 benches/e2e/compare_duckdb.py [--samen target/release/samen]
        [--residents 100000] [--users 40000] [--seed 2026] [--two-party] [--work DIR]

1. `samen synth mijnoverheid` writes register.csv, usage.csv and study.toml (every output of
   the synthetic study: counts, sums, means, variances, covariance, regression, correlation,
   a differentially private count — whatever the binary's synth declares).
2. For each join method (`helper`, and `two-party` with --two-party) the three parties run as
   separate `samen run` processes over mutual TLS on loopback, on free ports. Recorded per
   party: wall time, each phase's time and the bytes sent (from `<party>-summary.json`), and
   peak RSS (`/usr/bin/time -v` when present, else the summary's `peak_rss_bytes`).
3. DuckDB computes the same outputs in the clear from the same CSV files, in this process,
   timed from reading the CSV files to the last table (join and group by in SQL; the
   regression by least squares in numpy on the joined rows DuckDB returns). Its cell counts
   are checked against samen's tables (exact outputs, cells samen did not suppress).
4. A Markdown report: wall times, ratios (samen / DuckDB, two-party / helper), the per-party
   table and the CPU model.

DuckDB and numpy are needed by this script only (`pip install duckdb numpy`); nothing in the
workspace's tests or CI uses them.
"""

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

PARTIES = ["bureau", "portal", "trustee"]
INPUTS = {"bureau": ("register", "register.csv"), "portal": ("usage", "usage.csv")}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def cores():
    return os.cpu_count() or 1


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def study_for(text, join, ports):
    """The synthetic study with this join method and these loopback ports."""
    text = re.sub(r'(?m)^join = "[^"]*"', f'join = "{join}"', text)
    if not re.search(r'(?m)^join = ', text):
        text = text.replace("[study]\n", f'[study]\njoin = "{join}"\n', 1)
    addresses = iter(ports)
    return re.sub(r'127\.0\.0\.1:\d+', lambda _m: f"127.0.0.1:{next(addresses)}", text)


def parse_time_v(path):
    """Peak RSS in bytes from a `/usr/bin/time -v` report."""
    try:
        with open(path) as f:
            for line in f:
                if "Maximum resident set size" in line:
                    return int(line.rsplit(":", 1)[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def run_samen(samen, work, data, join):
    """Run the three parties with `join`; returns per-party results and the overall wall time."""
    d = os.path.join(work, join)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(data, "study.toml")) as f:
        text = study_for(f.read(), join, free_ports(3))
    study = os.path.join(d, "study.toml")
    with open(study, "w") as f:
        f.write(text)
    subprocess.run([samen, "certs", "--study", study, "--out", os.path.join(d, "certs")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    procs = {}
    start = time.perf_counter()
    # The helper first, then the data parties (connection order does not matter; each retries).
    for party in ["trustee", "portal", "bureau"]:
        out = os.path.join(d, f"out-{party}")
        cmd = [samen, "run", "--study", study, "--party", party, "--certs",
               os.path.join(d, "certs"), "--out", out, "--quiet"]
        if party in INPUTS:
            table, file = INPUTS[party]
            cmd += ["--input", f"{table}={os.path.join(data, file)}"]
        if gnu_time:
            cmd = [gnu_time, "-v", "-o", os.path.join(d, f"{party}.time")] + cmd
        log = open(os.path.join(d, f"{party}.log"), "w")
        procs[party] = (subprocess.Popen(cmd, stdout=log, stderr=log), time.perf_counter(), log)
    results = {}
    pending = dict(procs)
    while pending:
        for party, (p, t0, log) in list(pending.items()):
            if p.poll() is not None:
                results[party] = {"wall": time.perf_counter() - t0, "rc": p.returncode}
                log.close()
                del pending[party]
        time.sleep(0.005)
    wall = time.perf_counter() - start
    failed = [p for p in PARTIES if results[p]["rc"] != 0]
    if failed:
        for p in failed:
            with open(os.path.join(d, f"{p}.log")) as f:
                sys.stderr.write(f"--- {p} ({join} join) failed:\n{f.read()[-2000:]}\n")
        raise SystemExit(f"samen run failed for {', '.join(failed)} ({join} join); logs in {d}")
    for party in PARTIES:
        with open(os.path.join(d, f"out-{party}", f"{party}-summary.json")) as f:
            s = json.load(f)
        r = results[party]
        r["phases"] = [(ph["name"], ph["seconds"]) for ph in s.get("phases", [])]
        r["total"] = s.get("total_seconds")
        r["sent"] = sum(s.get("bytes_sent", {}).values())
        r["sent_to"] = s.get("bytes_sent", {})
        rss = parse_time_v(os.path.join(d, f"{party}.time")) if gnu_time else None
        r["rss"], r["rss_source"] = (rss, "time -v") if rss else (s.get("peak_rss_bytes"), "summary")
    return {"wall": wall, "parties": results, "out": os.path.join(d, "out-bureau"), "dir": d}


# ---------------------------------------------------------------- DuckDB, in the clear

def q(col):
    """A `table.column` reference as a quoted DuckDB identifier of the joined table."""
    return '"' + col.replace('"', '""') + '"'


def duckdb_tables(data, study, threads):
    """Compute every output of `study` in the clear; returns ({name: rows}, seconds)."""
    import duckdb
    import numpy as np

    t0 = time.perf_counter()
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    names = list(study["tables"])
    for name in names:
        t = study["tables"][name]
        idc = t["id"]["column"]
        path = os.path.join(data, f"{name}.csv")
        cols = ", ".join(f"{q(c)}" for c in t.get("columns", {}))
        # Identifiers as text, normalised like samen does for BSNs written without their zero.
        ident = f"lpad({q(idc)}, 9, '0')" if t["id"]["kind"] == "bsn" else q(idc)
        con.execute(
            f"CREATE TABLE {q(name)} AS SELECT {ident} AS id, {cols} "
            f"FROM read_csv('{path}', header = true, types = {{'{idc}': 'VARCHAR'}})")
    a, b = names
    select = ", ".join(
        f"{x}.{q(c)} AS {q(n + '.' + c)}"
        for x, n in (("a", a), ("b", b)) for c in study["tables"][n].get("columns", {}))
    con.execute(f"CREATE TABLE j AS SELECT {select} FROM {q(a)} a JOIN {q(b)} b USING (id)")

    def levels(col):
        t, c = col.split(".", 1)
        return study["tables"][t]["columns"][c].get("levels")

    def by_expr(entry):
        """A `by` entry as a DuckDB expression: a column, or the band index of a banded one."""
        if isinstance(entry, str):
            return q(entry)
        col, breaks = entry["column"], entry["breaks"]
        cases = " ".join(f"WHEN {q(col)} < {int(b)} THEN {i}" for i, b in enumerate(breaks))
        return f"(CASE {cases} ELSE {len(breaks)} END)"

    def where_expr(filters):
        """`where` entries as one DuckDB condition (`table.column OP value`, `in [...]`)."""
        conds = []
        for f in filters:
            m = re.match(r"\s*([\w.]+)\s+(not in|in|<=|>=|!=|=|<|>)\s+(.*)$", f)
            col, op, rest = m.group(1), m.group(2), m.group(3).strip()
            if op in ("in", "not in"):
                items = ", ".join("'" + x.replace("'", "''") + "'" for x in json.loads(rest))
                conds.append(f"{q(col)} {op.upper()} ({items})")
            else:
                conds.append(f"{q(col)} {'<>' if op == '!=' else op} {int(rest)}")
        return (" WHERE " + " AND ".join(conds)) if conds else ""

    out = {}
    for o in study.get("outputs", []):
        stat, by = o["statistic"], [by_expr(e) for e in o.get("by", [])]
        of = o.get("of", [])
        of = [of] if isinstance(of, str) else of
        where = where_expr(o.get("where", []))
        group = f" GROUP BY {', '.join(by)} ORDER BY {', '.join(by)}" if by else ""
        keys = "".join(f"{c}, " for c in by)
        aggs = {"count": "", "sum": f", sum({q(of[0])})" if of else "",
                "mean": f", avg({q(of[0])})" if of else "",
                "variance": f", avg({q(of[0])}), var_pop({q(of[0])})" if of else "",
                "covariance": f", covar_pop({q(of[0])}, {q(of[-1])})" if of else ""}
        if stat == "rate":
            # the owning table's own rows per cell, and the matched rows per cell
            owner = o["by"][0].split(".", 1)[0] if isinstance(o["by"][0], str) else o["by"][0]["column"].split(".", 1)[0]
            own_cols = ", ".join(f"{q(c)} AS {q(owner + '.' + c)}" for c in study["tables"][owner].get("columns", {}))
            con.execute(f"CREATE OR REPLACE TEMP VIEW own AS SELECT {own_cols} FROM {q(owner)}")
            rows = dict(((tuple(r[:-1]), r[-1]) for r in con.execute(
                f"SELECT {keys}count(*) FROM own{group}").fetchall()))
            matched = con.execute(f"SELECT {keys}count(*) FROM j{where}{group}").fetchall()
            out[o["name"]] = [tuple(r[:-1]) + (r[-1], rows.get(tuple(r[:-1]), 0)) for r in matched]
            continue
        if stat in aggs:
            out[o["name"]] = con.execute(f"SELECT {keys}count(*){aggs[stat]} FROM j{where}{group}").fetchall()
        elif stat == "correlation":
            pairs = ", ".join(f"corr({q(x)}, {q(y)})" for x in of for y in of)
            out[o["name"]] = con.execute(f"SELECT count(*), {pairs} FROM j").fetchall()
        elif stat == "regression":
            xs = o.get("x", [])
            cols = con.execute(f"SELECT {', '.join(q(c) for c in [of[0]] + xs)} FROM j").fetchnumpy()
            y = cols[of[0]].astype(np.float64)
            design = [np.ones_like(y)]
            for c in xs:
                lv = levels(c)
                if lv:  # dummies, the first declared level as reference
                    v = cols[c]
                    design += [(v == l).astype(np.float64) for l in lv[1:]]
                else:
                    design.append(cols[c].astype(np.float64))
            x = np.column_stack(design)
            beta, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
            resid = y - x @ beta
            df = len(y) - x.shape[1]
            sigma2 = float(resid @ resid) / df if df > 0 else float("nan")
            se = np.sqrt(np.diag(np.linalg.pinv(x.T @ x)) * sigma2)
            out[o["name"]] = [("beta", beta.tolist(), "se", se.tolist(), "rank", int(rank))]
        else:
            out[o["name"]] = None
    con.close()
    return out, time.perf_counter() - t0


def check_counts(samen_out, study, plain):
    """Compare DuckDB's cell counts with samen's unsuppressed cells of every exact output."""
    import csv
    problems, checked = [], 0
    for o in study.get("outputs", []):
        rows = plain.get(o["name"])
        if o["statistic"] in ("regression", "correlation") or rows is None:
            continue
        if "epsilon" in o or "rho" in o:
            continue
        if o["statistic"] == "rate" or any(not isinstance(e, str) for e in o.get("by", [])):
            continue  # band labels and rates: compared by the demo's own check
        nby = len(o.get("by", []))
        want = {tuple(str(v) for v in r[:nby]): r[nby] for r in rows}
        with open(os.path.join(samen_out, f"{o['name']}.csv")) as f:
            for row in csv.DictReader(f):
                if row.get("suppressed") != "false":
                    continue
                key = tuple(list(row.values())[:nby])
                checked += 1
                if int(row["count"]) != want.get(key, 0):
                    problems.append(f"{o['name']} {key}: samen {row['count']}, DuckDB {want.get(key)}")
    return checked, problems


# ---------------------------------------------------------------- report

def mib(b):
    return f"{b / 2**20:.0f} MiB" if b else "—"


def mb(b):
    return f"{b / 1e6:.1f} MB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samen", default="target/release/samen", help="the samen binary")
    ap.add_argument("--residents", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=40_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--two-party", action="store_true",
                    help="also run the two-party Diffie–Hellman join (minutes at 10^6 rows)")
    ap.add_argument("--duckdb-threads", type=int, default=0,
                    help="DuckDB threads (default: DuckDB's own choice, all cores)")
    ap.add_argument("--work", help="keep data and runs here (default: a temporary directory)")
    args = ap.parse_args()
    if tomllib is None:
        raise SystemExit("Python 3.11 or later is needed (tomllib)")
    try:
        import duckdb  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        raise SystemExit("this script needs DuckDB and numpy: pip install duckdb numpy")

    samen = os.path.realpath(args.samen)
    work = args.work or tempfile.mkdtemp(prefix="samen-e2e-")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "data")
    t = time.perf_counter()
    subprocess.run([samen, "synth", "mijnoverheid", "--residents", str(args.residents),
                    "--users", str(args.users), "--seed", str(args.seed), "--out", data],
                   check=True, stdout=subprocess.DEVNULL)
    synth_s = time.perf_counter() - t
    with open(os.path.join(data, "study.toml"), "rb") as f:
        study = tomllib.load(f)

    runs = {}
    for join in ["helper"] + (["two-party"] if args.two_party else []):
        print(f"running samen with the {join} join …", file=sys.stderr, flush=True)
        runs[join] = run_samen(samen, work, data, join)
    print("computing the same tables with DuckDB …", file=sys.stderr, flush=True)
    plain, duck_s = duckdb_tables(data, study, args.duckdb_threads)
    duck_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    checked, problems = check_counts(runs["helper"]["out"], study, plain)

    import duckdb
    outputs = ", ".join(f"{o['name']} ({o['statistic']}{', ε' if 'epsilon' in o else ''})"
                        for o in study.get("outputs", []))
    print(f"## samen end to end vs DuckDB in the clear\n")
    print(f"- CPU: {cpu_model()}, {cores()} logical cores (shared by all three parties and DuckDB)")
    print(f"- data: {args.residents} register rows × {args.users} usage rows, seed {args.seed}"
          f" (`samen synth` {synth_s:.2f} s)")
    print(f"- outputs ({len(study.get('outputs', []))}): {outputs}")
    print(f"- DuckDB {duckdb.__version__}, threads: {args.duckdb_threads or 'default'}; "
          f"from reading both CSV files to the last table, regression in numpy")
    print(f"- DuckDB vs samen cell counts: {checked} cells compared, "
          f"{'all equal' if not problems else f'{len(problems)} differ: ' + '; '.join(problems[:5])}")
    print(f"- work directory: {work}\n")

    print("| computation | wall (s) | / DuckDB | / helper join |")
    print("|---|---:|---:|---:|")
    print(f"| DuckDB, plaintext join + group by | {duck_s:.2f} | 1.0 | — |")
    for join, r in runs.items():
        ratio = r["wall"] / runs["helper"]["wall"]
        print(f"| samen, three processes, {join} join | {r['wall']:.2f} | "
              f"{r['wall'] / duck_s:.1f} | {ratio:.2f} |")
    print()

    phases = []
    for r in runs.values():
        for p in r["parties"].values():
            for name, _ in p["phases"]:
                if name not in phases:
                    phases.append(name)
    print("| join | party | wall (s) | " + " | ".join(phases) + " | sent | peak RSS |")
    print("|---|---|---:|" + "---:|" * len(phases) + "---:|---:|")
    for join, r in runs.items():
        for party in PARTIES:
            p = r["parties"][party]
            ph = dict(p["phases"])
            cells = " | ".join(f"{ph[n]:.2f}" if n in ph else "" for n in phases)
            print(f"| {join} | {party} | {p['wall']:.2f} | {cells} | {mb(p['sent'])} | "
                  f"{mib(p['rss'])} ({p['rss_source']}) |")
    print(f"| — | DuckDB (python process) | {duck_s:.2f} |" + " |" * len(phases)
          + f" — | {mib(duck_rss)} |")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
