"""The odeserve HTTP client: one class, standard library only.

A Client holds one keep-alive connection; it is not thread-safe (use one per
thread). Every method maps to one route of docs/api.md and returns the decoded
JSON reply, or raises ApiError with the API's status, code, message and field.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, TextIO, Union

from .errors import ApiError, ConnectionFailed, JobFailed

Json = Any
Number = Union[int, float]
Version = Union[int, str]

__all__ = ["Client", "DEFAULT_URL"]

DEFAULT_URL = "http://127.0.0.1:8080"

# Keys of trajectory replies that hold arrays (converted when arrays=True).
_ARRAY_KEYS = ("y", "readout", "hidden", "mean", "std", "samples", "log_prob", "x",
               "energy", "grad", "path", "stderr")

_TERMINAL = ("succeeded", "failed", "cancelled")

# Statuses whose Retry-After says the same request may be sent again unchanged.
_RETRYABLE = (429, 503)


def _quote(segment: Union[str, int]) -> str:
    return urllib.parse.quote(str(segment), safe="")


def _solver(solver: Optional[Mapping[str, Any]], extra: Mapping[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = dict(solver or {})
    for k, v in extra.items():
        if v is not None:
            out[k] = v
    return out


class Client:
    """A connection to one odeserved.

    url:      ``http://host:port`` or ``https://host:port`` (default: the
              environment's ODESERVE_URL, else http://127.0.0.1:8080).
    token:    an API token (``ods_...``), sent as a Bearer token (default:
              ODESERVE_TOKEN). Routes that need one fail with 401 without it.
    timeout:  seconds to wait for a connection or a reply.
    arrays:   return arrays in replies as numpy arrays (needs numpy).
    retries:  how often a 429 or 503 that carries Retry-After is retried
              (after the time it asks for, at most max_retry_wait seconds).
    cafile:   a CA bundle for https (e.g. a self-signed certificate).
    """

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, *,
                 timeout: float = 60.0, arrays: bool = False, retries: int = 2,
                 max_retry_wait: float = 10.0, cafile: Optional[str] = None):
        url = url or os.environ.get("ODESERVE_URL") or DEFAULT_URL
        if token is None:
            token = os.environ.get("ODESERVE_TOKEN") or None
        parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"url: scheme must be http or https, got {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError(f"url: no host in {url!r}")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self._cafile = cafile
        self._conn: Optional[http.client.HTTPConnection] = None
        self._np: Any = None
        if arrays:
            try:
                import numpy  # noqa: F401  (optional dependency)
            except ImportError as exc:
                raise ImportError("arrays=True needs numpy") from exc
            self._np = numpy

    # ---- plumbing ----

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._scheme == "https":
                ctx = ssl.create_default_context(cafile=self._cafile)
                self._conn = http.client.HTTPSConnection(self._host, self._port,
                                                         timeout=self.timeout, context=ctx)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port,
                                                        timeout=self.timeout)
        return self._conn

    def _send(self, method: str, path: str, body: Optional[bytes],
              content_type: str) -> "tuple[int, Dict[str, str], bytes]":
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            headers["Content-Type"] = content_type
        # A keep-alive connection the server closed while idle fails on first
        # use: that one failure is retried on a fresh connection.
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, self._prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    self.close()
                return resp.status, hdrs, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 1:
                    raise ConnectionFailed(f"{method} {path}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise ConnectionFailed(f"{method} {self.url}{path}: {exc}") from exc
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, body: Json = None, *,
                raw: Optional[bytes] = None, content_type: str = "application/json") -> Json:
        """One API call: `body` is encoded as JSON (or `raw` sent as is);
        returns the decoded reply (text for a non-JSON reply)."""
        if raw is None and body is not None:
            raw = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
        tries = 0
        while True:
            status, hdrs, data = self._send(method, path, raw, content_type)
            if status < 400:
                ctype = hdrs.get("content-type", "")
                if not data:
                    return None
                if ctype.startswith("application/json"):
                    return json.loads(data)
                return data.decode("utf-8", "replace")
            err = self._error(status, hdrs, data)
            if (status in _RETRYABLE and err.retry_after is not None and tries < self.retries
                    and err.retry_after <= self.max_retry_wait):
                tries += 1
                time.sleep(err.retry_after)
                continue
            raise err

    @staticmethod
    def _error(status: int, hdrs: Mapping[str, str], data: bytes) -> ApiError:
        retry: Optional[float] = None
        if "retry-after" in hdrs:
            try:
                retry = float(hdrs["retry-after"])
            except ValueError:
                retry = None
        try:
            doc = json.loads(data)
            e = doc["error"]
            return ApiError(status, str(e.get("code", "unknown")), str(e.get("message", "")),
                            e.get("field") or None, retry, doc)
        except (ValueError, KeyError, TypeError, AttributeError):
            # libmicrohttpd answers malformed HTTP itself, in HTML.
            text = data.decode("utf-8", "replace").strip()
            return ApiError(status, "http_error", text[:200] or f"HTTP {status}", None, retry, {})

    def _arrays(self, reply: Json) -> Json:
        if self._np is None or not isinstance(reply, dict):
            return reply
        out = dict(reply)
        for k in _ARRAY_KEYS:
            v = out.get(k)
            if isinstance(v, list) and v and not isinstance(v[0], dict):
                out[k] = self._np.asarray(v, dtype=float)
        if isinstance(out.get("quantiles"), dict):
            out["quantiles"] = {q: self._np.asarray(v, dtype=float)
                                for q, v in out["quantiles"].items()}
        if isinstance(out.get("series"), list):
            out["series"] = [self._arrays(s) for s in out["series"]]
        return out

    @staticmethod
    def _plain(x: Any) -> Any:
        """numpy arrays and scalars to lists and floats, so json can write them."""
        if hasattr(x, "tolist"):
            return x.tolist()
        if isinstance(x, (list, tuple)):
            return [Client._plain(v) for v in x]
        return x

    # ---- health and metadata ----

    def health(self) -> bool:
        """True when the daemon answers /healthz."""
        try:
            self.request("GET", "/healthz")
            return True
        except (ApiError, ConnectionFailed):
            return False

    def ready(self) -> bool:
        """True when /readyz says the daemon can serve (database reachable)."""
        try:
            self.request("GET", "/readyz")
            return True
        except (ApiError, ConnectionFailed):
            return False

    def version(self) -> Dict[str, Any]:
        return self.request("GET", "/v1/version")

    def solvers(self) -> List[Dict[str, Any]]:
        return self.request("GET", "/v1/solvers")["solvers"]

    # ---- models ----

    def models(self) -> List[Dict[str, Any]]:
        """Every model: name, kind, dimensions, latest_version, ..."""
        return self.request("GET", "/v1/models")["models"]

    def model(self, name: str) -> Dict[str, Any]:
        """A model's metadata, versions and aliases."""
        return self.request("GET", f"/v1/models/{_quote(name)}")

    def export(self, name: str, version: Version = "latest") -> Dict[str, Any]:
        """A version's model document (uploading it again gives the same model)."""
        return self.request("GET", f"/v1/models/{_quote(name)}/versions/{_quote(version)}")

    def upload(self, name: str, doc: Union[Mapping[str, Any], str, bytes, os.PathLike]) -> int:
        """Store a model document as the next version of `name`; returns the
        version. `doc` is a dict, JSON text, or the path of a JSON file."""
        raw = _document_bytes(doc)
        reply = self.request("POST", f"/v1/models/{_quote(name)}/versions", raw=raw)
        return int(reply["version"])

    def delete_model(self, name: str) -> Dict[str, Any]:
        return self.request("DELETE", f"/v1/models/{_quote(name)}")

    def delete_version(self, name: str, version: Version) -> Dict[str, Any]:
        return self.request("DELETE", f"/v1/models/{_quote(name)}/versions/{_quote(version)}")

    def set_alias(self, name: str, alias: str, version: int) -> Dict[str, Any]:
        return self.request("PUT", f"/v1/models/{_quote(name)}/aliases/{_quote(alias)}",
                            {"version": version})

    def delete_alias(self, name: str, alias: str) -> Dict[str, Any]:
        return self.request("DELETE", f"/v1/models/{_quote(name)}/aliases/{_quote(alias)}")

    def history(self, name: str) -> List[Dict[str, Any]]:
        return self.request("GET", f"/v1/models/{_quote(name)}/history")["history"]

    # ---- evaluation ----

    def trajectory(self, name: str, y0: Any, t: Any, *, t0: Optional[Number] = None,
                   version: Optional[Version] = None, augmented: Optional[bool] = None,
                   events: Optional[Sequence[Mapping[str, Any]]] = None,
                   solver: Optional[Mapping[str, Any]] = None, **solver_keys: Any) -> Dict[str, Any]:
        """An ODE (or SDE, Hamiltonian) model's state at times `t` from `y0`.

        `y0` is one state or a list of them (a batch); `t` a list of times or
        one list per state. Solver settings go as keywords
        (``method="dopri5", rtol=1e-8``) or as `solver`. For an SDE model pass
        ``samples``, ``seed``, ``output``, ``quantiles`` as keywords too: keys
        the solver object does not know are sent at the top level."""
        body: Dict[str, Any] = {"y0": self._plain(y0), "t": self._plain(t)}
        top = {k: solver_keys.pop(k) for k in list(solver_keys) if k in _TOP_LEVEL_KEYS}
        body.update({k: self._plain(v) for k, v in top.items() if v is not None})
        for k, v in (("t0", t0), ("version", version), ("augmented", augmented),
                     ("events", events)):
            if v is not None:
                body[k] = v
        s = _solver(solver, solver_keys)
        if s:
            body["solver"] = s
        return self._arrays(self.request("POST", f"/v1/models/{_quote(name)}/trajectory", body))

    def cde(self, name: str, observations: Any, t: Any = None, *, output: Optional[str] = None,
            version: Optional[Version] = None, events: Optional[Sequence[Mapping[str, Any]]] = None,
            solver: Optional[Mapping[str, Any]] = None, **solver_keys: Any) -> Dict[str, Any]:
        """A CDE model's readout (or hidden state) over one observed series.

        `observations` is ``{"t": [...], "x": [[...], ...]}`` or a pair
        ``(t, x)`` (``None`` marks a missing value); `t` the query times
        (default: the observation times); `output` "readout", "hidden" or
        "both". A list of such series (dicts with "observations" and "t")
        as `observations` sends a batch."""
        body: Dict[str, Any] = {}
        if isinstance(observations, list) and observations and isinstance(observations[0], dict) \
                and "observations" in observations[0]:
            body["series"] = [{"observations": _observations(s["observations"]),
                               **({"t": self._plain(s["t"])} if s.get("t") is not None else {})}
                              for s in observations]
        else:
            body["observations"] = _observations(observations)
            if t is not None:
                body["t"] = self._plain(t)
        for k, v in (("output", output), ("version", version), ("events", events)):
            if v is not None:
                body[k] = v
        s = _solver(solver, solver_keys)
        if s:
            body["solver"] = s
        return self._arrays(self.request("POST", f"/v1/models/{_quote(name)}/trajectory", body))

    def post(self, name: str, endpoint: str, body: Mapping[str, Any]) -> Dict[str, Any]:
        """POST `body` to /v1/models/{name}/{endpoint} (a kind's own endpoint,
        e.g. ``energy``, ``log_prob``, ``sample``)."""
        return self._arrays(self.request("POST", f"/v1/models/{_quote(name)}/{_quote(endpoint)}",
                                         self._plain_doc(body)))

    def _plain_doc(self, body: Mapping[str, Any]) -> Dict[str, Any]:
        return {k: self._plain(v) for k, v in body.items()}

    # ---- datasets ----

    def datasets(self) -> List[Dict[str, Any]]:
        return self.request("GET", "/v1/datasets")["datasets"]

    def dataset(self, name: str) -> Dict[str, Any]:
        return self.request("GET", f"/v1/datasets/{_quote(name)}")

    def upload_dataset(self, name: str, data: Union[Mapping[str, Any], str, bytes, os.PathLike],
                       *, csv: Optional[bool] = None, kind: Optional[str] = None) -> Dict[str, Any]:
        """Upload a dataset: a dict ``{"series": [...]}`` (or ``{"kind":
        "points", "points": [...]}``), JSON or CSV text, or a file path
        (``.csv`` is sent as text/csv). `kind` ("series" or "points") goes in
        the query, as a CSV point set needs. Returns the summary."""
        raw = _document_bytes(data)
        if csv is None:
            csv = isinstance(data, (str, os.PathLike)) and str(data).endswith(".csv") \
                and os.path.exists(str(data))
            if not csv and not isinstance(data, Mapping):
                csv = not raw.lstrip().startswith(b"{")
        ctype = "text/csv" if csv else "application/json"
        q = f"?kind={_quote(kind)}" if kind else ""
        return self.request("POST", f"/v1/datasets/{_quote(name)}{q}", raw=raw, content_type=ctype)

    def dataset_series(self, name: str, offset: int = 0, limit: int = 20) -> Dict[str, Any]:
        """A dataset's data back, in the upload's form: series (or a point
        set's points) offset .. offset+limit (at most 1000)."""
        return self.request("GET", f"/v1/datasets/{_quote(name)}/series?offset={int(offset)}"
                                   f"&limit={int(limit)}")

    def delete_dataset(self, name: str) -> Dict[str, Any]:
        return self.request("DELETE", f"/v1/datasets/{_quote(name)}")

    # ---- training jobs ----

    def jobs(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        q = f"?status={_quote(status)}" if status else ""
        return self.request("GET", f"/v1/jobs{q}")["jobs"]

    def job(self, job_id: Union[int, str]) -> Dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{_quote(job_id)}")

    def train(self, spec: Optional[Mapping[str, Any]] = None, **keys: Any) -> int:
        """Queue a training job (docs/training-jobs.md); returns its id.
        The job document is `spec`, updated by the keywords."""
        body: Dict[str, Any] = dict(spec or {})
        body.update(keys)
        reply = self.request("POST", "/v1/jobs", body)
        return reply["id"]

    def metrics(self, job_id: Union[int, str]) -> Dict[str, Any]:
        """A job's loss curve: iteration, train_loss, validation_loss, ..."""
        return self._arrays(self.request("GET", f"/v1/jobs/{_quote(job_id)}/metrics"))

    def cancel(self, job_id: Union[int, str]) -> Dict[str, Any]:
        return self.request("POST", f"/v1/jobs/{_quote(job_id)}/cancel")

    def wait(self, job_id: Union[int, str], *, progress: bool = False, poll: float = 0.5,
             timeout: Optional[float] = None, raise_on_failure: bool = True,
             stream: Optional[TextIO] = None,
             on_update: Optional[Callable[[Dict[str, Any]], None]] = None) -> Dict[str, Any]:
        """Poll a job until it has ended; returns its final document.

        progress: a progress line on `stream` (stderr), or a tqdm bar when
        tqdm is installed. A failed or cancelled job raises JobFailed unless
        raise_on_failure is False. timeout: seconds, then TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _Progress(stream or sys.stderr) if progress else None
        try:
            while True:
                job = self.job(job_id)
                if on_update is not None:
                    on_update(job)
                if bar is not None:
                    bar.update(job)
                if job.get("status") in _TERMINAL:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"job {job_id} still {job.get('status')} after {timeout} s")
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()
        if raise_on_failure and job.get("status") != "succeeded":
            raise JobFailed(job)
        return job

    # ---- tokens (admin) ----

    def create_token(self, name: str, scopes: Iterable[str],
                     expires: Optional[str] = None) -> Dict[str, Any]:
        """Make an API token; the reply's "token" is its text, shown once."""
        body: Dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if expires is not None:
            body["expires"] = expires
        return self.request("POST", "/v1/tokens", body)

    def tokens(self) -> List[Dict[str, Any]]:
        return self.request("GET", "/v1/tokens")["tokens"]

    def revoke_token(self, name: str) -> Dict[str, Any]:
        return self.request("DELETE", f"/v1/tokens/{_quote(name)}")


# Keys of a trajectory request that belong at its top level, not in "solver".
_TOP_LEVEL_KEYS = frozenset({"samples", "seed", "output", "quantiles", "trace", "probes"})


def _observations(obs: Any) -> Dict[str, Any]:
    if isinstance(obs, Mapping):
        return {"t": Client._plain(obs["t"]), "x": Client._plain(obs["x"])}
    if isinstance(obs, (tuple, list)) and len(obs) == 2:
        return {"t": Client._plain(obs[0]), "x": Client._plain(obs[1])}
    raise TypeError("observations: a dict {'t': [...], 'x': [[...]]} or a pair (t, x)")


def _document_bytes(doc: Any) -> bytes:
    if isinstance(doc, Mapping):
        return json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
    if isinstance(doc, bytes):
        return doc
    if isinstance(doc, os.PathLike):
        with open(doc, "rb") as f:
            return f.read()
    if isinstance(doc, str):
        s = doc.lstrip()
        if s.startswith("{") or s.startswith("[") or "\n" in doc:
            return doc.encode()
        with open(doc, "rb") as f:
            return f.read()
    raise TypeError(f"a dict, JSON text, bytes or a path, not {type(doc).__name__}")


class _Progress:
    """A one-line job progress display (tqdm when it is installed)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tqdm: Any = None
        try:
            from tqdm import tqdm  # type: ignore[import-not-found]
            self.tqdm = tqdm(total=None, file=stream, unit="it")
        except ImportError:
            pass
        self.last = ""

    def update(self, job: Dict[str, Any]) -> None:
        it, total = job.get("iteration") or 0, job.get("iterations") or 0
        loss = job.get("train_loss")
        if self.tqdm is not None:
            if total and self.tqdm.total != total:
                self.tqdm.total = total
            self.tqdm.n = it
            self.tqdm.set_postfix(status=job.get("status"), loss=loss)
            return
        pct = f" {100.0 * it / total:5.1f}%" if total else ""
        line = f"job {job.get('id')} {job.get('status')}: {it}/{total}{pct}"
        if loss is not None:
            line += f" loss {loss:.6g}"
        if line != self.last:
            end = "\r" if self.stream.isatty() else "\n"
            self.stream.write(line + end)
            self.stream.flush()
            self.last = line

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
        elif self.last and self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()
