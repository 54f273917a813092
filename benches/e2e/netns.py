#!/usr/bin/env python3
"""Three parties on three "machines": the synthetic MijnOverheid study over rate-limited links.

Runs the study of `samen synth mijnoverheid` (default 10^6 residents x 4*10^5 users) with three
`samen run` processes deployed as docs/deploying.md describes (keys made per party with
`samen keys`, pins in the study file, `--keys`, `--approve`), first on loopback and then with
each party in its own Linux network namespace, every pair joined by a veth pair whose both ends
are limited with a token bucket (`tc qdisc add dev ... root tbf rate R burst 256kb latency
50ms`). Reports, per party and link speed, the wall time and the bytes sent per matched row
(payload bytes from `<party>-summary.json`, all peers together, divided by |A| + |B| - N), and
the CPU model.

Needs root (namespaces, tc); the loopback run works without. Usage:

    cargo build --release -p samen-cli
    sudo python3 benches/e2e/netns.py --samen target/release/samen \
        --residents 1000000 --users 400000 --rates 1gbit,100mbit

Namespace and interface names carry the process id; every namespace is deleted at the end,
also after a failure. Addresses (10.200.0.x, 10.201.k.x) exist only inside the namespaces.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PARTIES = ["bureau", "portal", "trustee"]
LINKS = [(0, 1), (0, 2), (1, 2)]


def sh(*cmd):
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """Three namespaces joined pairwise by tbf-limited veth links; deleted by close()."""

    def __init__(self, rate, tag):
        self.ns = []
        self.tag = tag
        try:
            for p in PARTIES:
                name = f"samen-bench-{tag}-{p}"
                sh("ip", "netns", "add", name)
                self.ns.append(name)
            for i, ns in enumerate(self.ns):
                sh("ip", "-n", ns, "link", "set", "lo", "up")
                sh("ip", "-n", ns, "addr", "add", f"10.200.0.{i + 1}/32", "dev", "lo")
            for k, (i, j) in enumerate(LINKS):
                vi, vj = self.veth(i, j), self.veth(j, i)
                sh("ip", "-n", self.ns[i], "link", "add", vi, "type", "veth", "peer",
                   "name", vj, "netns", self.ns[j])
                for ns, dev, host, other, via in [(self.ns[i], vi, 1, j, 2),
                                                  (self.ns[j], vj, 2, i, 1)]:
                    sh("ip", "-n", ns, "addr", "add", f"10.201.{k}.{host}/30", "dev", dev)
                    sh("ip", "-n", ns, "link", "set", dev, "up")
                    sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root",
                       "tbf", "rate", rate, "burst", "256kb", "latency", "50ms")
                    sh("ip", "-n", ns, "route", "add", f"10.200.0.{other + 1}/32", "via",
                       f"10.201.{k}.{via}")
        except Exception:
            self.close()
            raise

    def veth(self, i, j):
        return f"sb{self.tag}{i}{j}"[:15]

    def exec(self, i):
        return ["ip", "netns", "exec", self.ns[i]]

    def close(self):
        for ns in self.ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.ns = []


def study_with(text, entries):
    """Replace each [parties.NAME] block's address and add listen/key lines."""
    for p, (address, listen, key) in zip(PARTIES, entries):
        pattern = re.compile(r'(\[parties\.' + p + r'\][^\n]*\n)address = "[^"]*"\n')
        extra = f'address = "{address}"\n'
        if listen:
            extra += f'listen = "{listen}"\n'
        extra += f'key = "{key}"\n'
        text, n = pattern.subn(lambda m: m.group(1) + extra, text, count=1)
        if n != 1:
            sys.exit(f"cannot find [parties.{p}] in the study file")
    return text


def run_study(samen, work, name, study_text, pins, addresses, listens, wrap):
    study = os.path.join(work, f"{name}.toml")
    with open(study, "w") as f:
        f.write(study_with(study_text, list(zip(addresses, listens, pins))))
    review = subprocess.run([samen, "review", "--study", study, "--party", "bureau"],
                            check=True, capture_output=True, text=True).stdout
    approve = review.strip().splitlines()[-1]
    procs = []
    for i, p in enumerate(PARTIES):
        out = os.path.join(work, f"out-{name}-{p}")
        cmd = wrap(i) + [samen, "run", "--quiet", "--study", study, "--party", p,
                         "--keys", os.path.join(work, f"keys-{p}"), "--out", out,
                         "--approve", approve, "--connect-timeout", "120"]
        if p == "bureau":
            cmd += ["--input", f"register={os.path.join(work, 'data', 'register.csv')}"]
        if p == "portal":
            cmd += ["--input", f"usage={os.path.join(work, 'data', 'usage.csv')}"]
        log = open(os.path.join(work, f"{name}-{p}.log"), "w")
        procs.append((p, out, subprocess.Popen(cmd, stdout=log, stderr=log), time.time(), log))
    rows = []
    for p, out, proc, t0, log in procs:
        rc = proc.wait()
        wall = time.time() - t0
        log.close()
        if rc != 0:
            sys.exit(f"{name}: {p} failed, see {log.name}")
        with open(os.path.join(out, f"{p}-summary.json")) as f:
            s = json.load(f)
        matched = s["sizes"]["first"] + s["sizes"]["second"] - s["sizes"]["union"]
        sent = sum(s["bytes_sent"].values())
        rows.append((p, wall, sent, matched, s["total_seconds"]))
    return rows


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samen", default="target/release/samen")
    ap.add_argument("--residents", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--rates", default="1gbit,100mbit",
                    help="comma-separated tc rates; empty for loopback only")
    ap.add_argument("--work", help="keep data, keys, study files, logs and outputs here")
    args = ap.parse_args()
    samen = os.path.abspath(args.samen)
    work = args.work or tempfile.mkdtemp(prefix="samen-netns-bench-")
    os.makedirs(work, exist_ok=True)
    sh(samen, "synth", "mijnoverheid", "--residents", str(args.residents), "--users",
       str(args.users), "--seed", str(args.seed), "--out", os.path.join(work, "data"))
    with open(os.path.join(work, "data", "study.toml")) as f:
        study_text = f.read()
    pins = []
    for p in PARTIES:
        keys = os.path.join(work, f"keys-{p}")
        shutil.rmtree(keys, ignore_errors=True)
        out = subprocess.run([samen, "keys", "--party", p, "--out", keys], check=True,
                             capture_output=True, text=True).stdout
        pins.append(out.strip().splitlines()[-1])

    results = []
    ports = [free_port() for _ in PARTIES]
    rows = run_study(samen, work, "loopback", study_text, pins,
                     [f"127.0.0.1:{p}" for p in ports], [None] * 3, lambda i: [])
    results.append(("loopback", rows))
    rates = [r for r in args.rates.split(",") if r]
    for n, rate in enumerate(rates):
        lab = Lab(rate, f"{os.getpid() % 100000}x{n}")
        try:
            rows = run_study(samen, work, f"netns-{rate}", study_text, pins,
                             [f"10.200.0.{i + 1}:{7101 + i}" for i in range(3)],
                             ["0.0.0.0:7101", None, None], lab.exec)
        finally:
            lab.close()
        results.append((rate, rows))

    print(f"samen over rate-limited links: {args.residents} x {args.users} rows, "
          f"seed {args.seed}; CPU: {cpu_model()} ({os.cpu_count()} cores)\n")
    print("| link | party | wall time (s) | bytes sent | bytes sent per matched row |")
    print("|---|---|---:|---:|---:|")
    for link, rows in results:
        for p, wall, sent, matched, _ in rows:
            print(f"| {link} | {p} | {wall:.1f} | {sent} | {sent / max(matched, 1):.1f} |")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
