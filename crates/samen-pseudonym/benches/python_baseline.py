#!/usr/bin/env python3
"""Plain Python baseline for `samen pseudonymise`: csv module + hmac, one row at a time.

Does the same work as the Rust bulk path with --id-kind bsn --on-invalid fail: normalise the
BSN (trim, digits only, pad 8 digits, 11-test, not all zeros), replace it by
hex(HMAC-SHA256(key, b"samen-pseudonym-v1\\x00" + domain + b"\\x00" + id)), write the row.

    python3 python_baseline.py IN.csv OUT.csv [KEYFILE] [--id-column bsn]

Without KEYFILE the benchmark key is used (32 bytes of 0x42, domain cbs-2026), so the output is
byte-identical to the Rust benchmark's.
"""
import csv
import hashlib
import hmac
import sys
import time

WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


def normalise_bsn(raw):
    t = raw.strip(" \t\n\r\f\v")
    if not t:
        raise ValueError("identifier is empty")
    if not (t.isascii() and t.isdigit()):
        raise ValueError("BSN contains a character that is not a digit")
    if len(t) == 8:
        t = "0" + t
    if len(t) != 9:
        raise ValueError("BSN does not have 9 digits")
    if t == "000000000":
        raise ValueError("BSN is all zeros")
    s = sum(w * int(d) for w, d in zip(WEIGHTS, t))
    if s % 11 != int(t[8]):
        raise ValueError("BSN fails the 11-test")
    return t


def load_key(path):
    import tomllib

    with open(path, "rb") as f:
        k = tomllib.load(f)
    return bytes.fromhex(k["key"]), k["domain"]


def main():
    args = [a for a in sys.argv[1:]]
    id_column = "bsn"
    if "--id-column" in args:
        i = args.index("--id-column")
        id_column = args[i + 1]
        del args[i : i + 2]
    src, dst = args[0], args[1]
    if len(args) > 2:
        key, domain = load_key(args[2])
    else:
        key, domain = b"\x42" * 32, "cbs-2026"
    prefix = b"samen-pseudonym-v1\x00" + domain.encode() + b"\x00"
    start = time.perf_counter()
    rows = 0
    with open(src, newline="") as fin, open(dst, "w", newline="") as fout:
        reader = csv.reader(fin)
        writer = csv.writer(fout, lineterminator="\n")
        header = next(reader)
        col = header.index(id_column)
        writer.writerow(header)
        for row in reader:
            try:
                nid = normalise_bsn(row[col])
            except ValueError as e:
                sys.exit(f"line {reader.line_num}: {e}")
            row[col] = hmac.new(key, prefix + nid.encode(), hashlib.sha256).hexdigest()
            writer.writerow(row)
            rows += 1
    secs = time.perf_counter() - start
    print(f"{rows} rows in {secs:.3f} s = {rows / secs:,.0f} rows/s", file=sys.stderr)


if __name__ == "__main__":
    main()
