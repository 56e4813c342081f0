"""A live odeserved for the Python tests (tests/pyclient_test.py,
tests/bridge_test.py): started on a free port with a temporary database,
stopped with SIGTERM."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

DAEMON = os.path.join(os.environ.get("top_builddir", "."), "src", "odeserved")


class Daemon:
    def __init__(self, *args, tokens=()):
        self.dir = tempfile.mkdtemp(prefix="odeserve-pyclient-")
        self.db = os.path.join(self.dir, "db")
        self.tokens = {}
        for name, scope in tokens:
            out = subprocess.run([DAEMON, "token", "create", "--scope", scope, "--name", name,
                                  "--db", self.db], check=True, capture_output=True, text=True)
            self.tokens[name] = out.stdout.strip()
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen([DAEMON, "--listen", "127.0.0.1:0", "--db", self.db,
                                      "--log-level", "info", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 30
        self.url = None
        while time.monotonic() < deadline and self.url is None:
            if self.proc.poll() is not None:
                raise RuntimeError("odeserved exited: " + self.text())
            m = re.search(r"event=ready addr=(\S+)", self.text())
            if m:
                self.url = "http://" + m.group(1)
            else:
                time.sleep(0.05)
        if self.url is None:
            self.stop()
            raise RuntimeError("odeserved did not get ready: " + self.text())

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
