#!/usr/bin/python3
"""Parse a /metrics reply (stdin) with Prometheus' own parser and check
odeserve's naming conventions; print a JSON summary for check_metrics.

Run by tests/check_metrics.c with Debian's /usr/bin/python3 and
python3-prometheus-client (./bootstrap installs it). Exit status 0 and a
JSON object {family: {"type": ..., "samples": n}} when the text parses
and every rule holds; 1 and the broken rule on stderr otherwise."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def fail(msg):
    print("metrics_check: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    text = sys.stdin.read()
    # the parser drops a counter's _total from the family name (and accepts a
    # counter without it), so the rule is checked on the TYPE lines as written
    for line in text.splitlines():
        f = line.split(" ")
        if line.startswith("# TYPE ") and len(f) == 4 and f[3] == "counter":
            if not f[2].endswith("_total"):
                fail("counter %s does not end in _total" % f[2])
    out = {}
    for fam in text_string_to_metric_families(text):
        name = fam.name
        if not (name.startswith("odeserve_") or name.startswith("process_")):
            fail("%s: no odeserve_ (or process_) prefix" % name)
        if not fam.documentation:
            fail("%s: no HELP text" % name)
        if fam.type == "counter":
            for s in fam.samples:
                if not s.name.endswith("_total"):
                    fail("counter sample %s does not end in _total" % s.name)
        if ("duration" in name or "time" in name) and not (
            name.endswith("_seconds") or name.endswith("_seconds_total")
        ):
            fail("%s: a time not in seconds" % name)
        if "size" in name and not name.endswith("_bytes"):
            fail("%s: a size not in bytes" % name)
        if fam.type == "histogram":
            series = {}
            for s in fam.samples:
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                d = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
                if s.name == name + "_bucket":
                    d["buckets"].append((float(s.labels["le"]), s.value))
                elif s.name == name + "_sum":
                    d["sum"] = s.value
                elif s.name == name + "_count":
                    d["count"] = s.value
                else:
                    fail("%s: unexpected histogram sample %s" % (name, s.name))
            for key, d in series.items():
                b = d["buckets"]
                if not b or b[-1][0] != float("inf"):
                    fail("%s%s: buckets do not end in +Inf" % (name, key))
                if d["sum"] is None or d["count"] is None:
                    fail("%s%s: _sum or _count missing" % (name, key))
                if b[-1][1] != d["count"]:
                    fail("%s%s: +Inf bucket %s != _count %s" % (name, key, b[-1][1], d["count"]))
                for (l0, c0), (l1, c1) in zip(b, b[1:]):
                    if not (l0 < l1 and c0 <= c1):
                        fail("%s%s: buckets not increasing/cumulative" % (name, key))
        out[name] = {"type": fam.type, "samples": len(fam.samples)}
    if not out:
        fail("no metric families")
    json.dump(out, sys.stdout, sort_keys=True)
    print()


main()
