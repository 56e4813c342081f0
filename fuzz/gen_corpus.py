#!/usr/bin/env python3
"""fuzz/gen_corpus.py: write the fuzz targets' seed corpus (fuzz/corpus/<target>/)
from the test fixtures: the request bodies of tests/api/*/request.json (and
their setup steps), the example models and datasets, and hand-picked number
tokens. Run from the source tree: python3 fuzz/gen_corpus.py. Deterministic:
file names are the first 16 hex digits of each input's SHA-1."""
import glob
import hashlib
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
MAX_BYTES = 16 * 1024
MAX_FILES = 80
corpus = {t: [] for t in ("parse", "number", "model", "request", "dataset", "job", "router",
                          "packed", "points")}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) <= MAX_BYTES and data not in corpus[target]:
        corpus[target].append(data)


def dumps(body):
    return json.dumps(body, separators=(",", ":"))


steps = []
for path in sorted(glob.glob(os.path.join(ROOT, "tests", "api", "*", "request.json"))):
    case = json.load(open(path))
    if "body_file" in case:
        with open(os.path.join(os.path.dirname(path), case["body_file"]), "rb") as f:
            case["raw_body"] = f.read()
    steps.extend(case.get("setup", []))
    steps.append(case)
for s in steps:
    method, path = s.get("method", "GET"), s.get("path", "/")
    add("router", f"{method}\n{path}")
    body = s.get("body")
    raw = s.get("raw_body")
    text = raw.decode("latin-1") if isinstance(raw, bytes) else dumps(body) if body is not None else None
    if text is None:
        continue
    if isinstance(raw, bytes):
        text_bytes = raw
    else:
        text_bytes = text.encode()
    add("parse", text_bytes)
    if path.endswith("/versions"):
        add("model", text_bytes)
    elif path.endswith("/trajectory"):
        is_cde = "observations" in text or "series" in text
        is_sde = any(f'"{k}"' in text for k in ("samples", "seed", "quantiles"))
        add("request", bytes([0x05 if is_cde else 0x09 if is_sde else 0x01]) + text_bytes)
    elif path.endswith("/gradient") and ("observations" in text or "series" in text):
        add("request", b"\x05" + text_bytes)  # the cde branch runs the gradient decoder too
    elif path.startswith("/v1/datasets/"):
        csv = s.get("headers", {}).get("Content-Type", "").startswith("text/csv")
        if csv and "kind=points" in path:
            add("points", text_bytes)
        add("dataset", bytes([1 if csv else 0]) + text_bytes)
    elif path == "/v1/jobs":
        add("job", text_bytes)

for ex in sorted(glob.glob(os.path.join(ROOT, "examples", "*.json"))):
    text = open(ex).read()
    add("parse", text)
    add("model", text)
csv = open(os.path.join(ROOT, "examples", "spiral-data", "spiral.csv")).read()
add("dataset", b"\x01" + csv[:4000].encode())
add("dataset", b"\x01series,t,x,y\n0,0,1,2\n0,1,1.5,NaN\n1,0,3,4\n")
add("dataset", b'\x00{"channels":1,"series":[{"t":[0,1],"y":[[1],[null]]}]}')
# points: point-set CSV bodies (?kind=points): the 8-Gaussians fixture's
# first points, and the corners of the format (quoting, CRLF, a BOM, blank
# and ragged lines, non-finite and overflowing cells, a missing header)
eight = json.load(open(os.path.join(ROOT, "tests", "fixtures", "cnf_8gaussians.json")))
add("points", "x,y\n" + "".join(f"{p[0]!r},{p[1]!r}\n" for p in eight["train"][:200]))
for text in ("x,y\n1,2\n3,4\n", "x\n0\n", "a,b,c\r\n1,2,3\r\n-0,1e-320,5e300\r\n",
             "\ufeffx,y\n1,2\n", '"x","y,z"\n1,2\n', '"x",y\n"1",2\n', "x,y\n1,2\n\n3,4\n",
             "x,y\n1,2,3\n", "x,y\n1\n", "x,y\n1,NaN\n", "x,y\n1,inf\n", "x,y\n1,1e999\n",
             "x,y\n1,\n", "x,y\n", "", "\n", ",\n1,2\n", "x,y\n0x10,2\n", "x,y\n1 ,2\n",
             "x,y\n1,2", "x," + "y," * 40 + "z\n" + "1," * 41 + "2\n", "x,y\n\"1,2\n"):
    add("points", text)
for tok in ("0", "-0", "1", "0.1", "1e308", "1.7976931348623157e308", "1e309", "4.9e-324",
            "2.2250738585072011e-308", "2.4703282292062327e-324", "9007199254740993",
            "123456789012345678901234567890", "0.30000000000000004", "-1.5E+10", "1e-400"):
    add("number", tok)
for x in (0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -2.5, 1e21, 1e-7, 123456.789):
    add("number", struct.pack("<d", x))
for text in ("[]", "{}", '{"a":[1,2,{"b":null}]}', '"\\u00e9\\ud83d\\ude00"', "[1e400]", "[NaN]"):
    add("parse", text)
# packed: the first byte's low bit chooses dataset (0) or model (1), bits
# 1-2 the pack_min (1, 2, 3, 64): every dataset and model seed at pack_min 1
# and 64, and arrays that pack, spill or fail at each place
for data in list(corpus["dataset"]):
    if data[:1] == b"\x00":
        add("packed", b"\x00" + data[1:])
        add("packed", b"\x06" + data[1:])
for data in list(corpus["model"]):
    add("packed", b"\x01" + data)
    add("packed", b"\x07" + data)
for text in ('{"series":[{"t":[0,1,2],"y":[[1,null],[null,2],[3,4]]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1,2],[3],[4,5]]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1,2],[3,4],5]}]}',
             '{"series":[{"t":[0,1,2],"y":[1,2,3]}]}',
             '{"series":[{"t":[0,1,null],"y":[[1],[2],[3]]}]}',
             '{"series":[{"t":[0,1,"2"],"y":[[1],[2],[3]]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1],[2],[[3]]]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1],[2],[NaN]]}]}',
             '{"series":[{"t":[0,1,1e400],"y":[[1],[2],[3]]}]}',
             '{"series":[{"t":[0,1,-Infinity],"y":[[1],[2],[3]]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1],[2],[3]],"t":[1]}]}',
             '{"series":[{"t":[0,1,2],"y":[[],[],[]]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1],[2],[3]]},{"t":[0,1],"y":[[1,2],[3,4]]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1],[2],[3]],"label":[1,2]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1],[2],[3]]}],"t":[1,2,3]}',
             '{"series":[{"t":[0,1,2],"y":[[1],[2],[3]',
             '{"series":[{"t":[0,1,2,],"y":[[1],[2],[3]]}]}',
             '{"series":[{"t":[0,1,2],"y":[[1],[2],[3\u0000]]}]}'):
    for first in (0, 2, 4, 6):
        add("packed", bytes([first]) + text.encode())
layer = '{"weight":[[1,2],[3,4]],"bias":[0.5,-0.5],"activation":"tanh"}'
for body in (layer, '{"weight":[[1,2],[3]],"bias":[0,0]}', '{"weight":[[1,2],[3,4]],"bias":[0,null]}',
             '{"weight":[[1,null],[3,4]],"bias":[0,0]}', '{"weight":[1,2],"bias":[0,0]}',
             '{"weight":[[1,2],[3,4]],"bias":[[0],[0]]}', '{"weight":[[1,2],[3,4]],"bias":[0]}',
             '{"weight":[[1,2],[3,4],[5,6]],"bias":[0,0,1e999]}', '{"weight":"w","bias":[0,0]}'):
    doc = ('{"kind":"ode","state_dim":2,"vector_field":{"layers":[' + body + ',' +
           '{"weight":[[1,0],[0,1]],"bias":[0,0]}]}}')
    for first in (1, 3, 5, 7):
        add("packed", bytes([first]) + doc.encode())

for target in ("router",):
    for text in ("GET\n/", "HEAD\n/healthz", "POST\n/v1/models/a/versions/1", "GET\n//",
                 "GET\n/v1/models/%FF", "PUT\n/v1/models/m/aliases/stable"):
        add(target, text)

shutil.rmtree(OUT, ignore_errors=True)
for target, inputs in corpus.items():
    os.makedirs(os.path.join(OUT, target))
    keep = 3 * MAX_FILES if target == "packed" else MAX_FILES
    for data in sorted(inputs, key=len)[:keep]:
        name = hashlib.sha1(data).hexdigest()[:16]
        open(os.path.join(OUT, target, name), "wb").write(data)
    print(f"{target}: {min(len(inputs), keep)} inputs")
