"""Drives the project's tslab kernel as Jupyter does, for the checks that need a real kernel.

`start()` starts the kernel in notebooks/ (run with the environment of scripts/jupyter-env.mjs, the
library built); `Cell` sends one cell and collects what the kernel publishes for it.
"""
import json
import os
import re
import sys
import time

from jupyter_client.manager import KernelManager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def debug(*args):
    if os.environ.get("DEBUG_DRIVER"):
        print(*args, file=sys.stderr, flush=True)


def text_of(content):
    data = content.get("data", {})
    return data.get("text/html") or data.get("text/plain") or ""


def start():
    """Starts the kernel; returns (manager, client). Shut it down with `km.shutdown_kernel(now=True)`."""
    km = KernelManager(kernel_name="tslab")
    km.start_kernel(cwd=os.path.join(ROOT, "notebooks"))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=600)
    return km, kc


class Cell:
    """One execute request; collects what the kernel publishes for it until the kernel is idle again."""

    def __init__(self, kc, code):
        self.kc = kc
        self.msg_id = kc.execute(code)
        self.stdout, self.stderr, self.displays, self.error = "", "", [], None
        self.by_id = {}  # display_id -> the latest content shown there (updates in place included)
        self.reply = None
        self.idle = False

    def pump(self, timeout, after_idle=False):
        """Reads iopub messages for up to `timeout` seconds; returns once idle (or, with `after_idle`,
        at the end of the time: a display can be updated after its cell has ended)."""
        end = time.time() + timeout
        while (after_idle or not self.idle) and time.time() < end:
            try:
                msg = self.kc.get_iopub_msg(timeout=min(0.2, max(0.01, end - time.time())))
            except Exception:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind in ("display_data", "update_display_data"):
                self.displays.append(text_of(content))  # updates may concern an earlier cell's display
                display_id = content.get("transient", {}).get("display_id")
                if display_id:
                    self.by_id[display_id] = text_of(content)
            if msg["parent_header"].get("msg_id") != self.msg_id:
                continue
            if kind == "stream":
                if content["name"] == "stdout":
                    self.stdout += content["text"]
                else:
                    self.stderr += content["text"]
            elif kind == "error":
                self.error = content.get("evalue")
            elif kind == "status" and content["execution_state"] == "idle":
                self.idle = True
        return self.idle

    def finish(self, timeout):
        if not self.pump(timeout):
            raise RuntimeError(f"no answer within {timeout} s to a cell; stdout so far: {self.stdout!r}")
        while True:  # skip replies to other requests (kernel_info from wait_for_ready)
            msg = self.kc.get_shell_msg(timeout=600)
            if msg["parent_header"].get("msg_id") == self.msg_id:
                self.reply = msg["content"]
                return self

    def marked(self, mark):
        m = re.search(rf"^{mark} (.*)$", self.stdout, re.M)
        return json.loads(m.group(1)) if m else None


def report(drive):
    """Starts the kernel, runs `drive(km, kc, out)`, which fills the dict `out`, shuts the kernel down and prints
    `out` as one JSON line; a driver failure becomes {"driverError": ...} for the test."""
    try:
        km, kc = start()
        out = {}
        try:
            drive(km, kc, out)
            kc.stop_channels()
        finally:
            km.shutdown_kernel(now=True)
        print(json.dumps(out))
    except Exception as e:
        print(json.dumps({"driverError": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
