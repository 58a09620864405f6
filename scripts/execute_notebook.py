#!/usr/bin/python3
"""Run a notebook on the project's tslab kernel; write the executed .ipynb and an offline HTML report.

usage: execute_notebook.py INPUT.ipynb OUTPUT.ipynb OUTPUT.html [--timeout SECONDS]

Both outputs are written even when a cell fails, so the partial result can be inspected. On failure
a paragraph starting with "NOTEBOOK FAILED:" goes to stderr and the exit status is 1.
"""
import argparse
import copy
import os
import re
import sys
import tempfile

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nbconvert")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The line of a Node stack trace that names the error, e.g. "TypeError: x is not a function".
ERROR_LINE = re.compile(r"^(Uncaught )?([A-Za-z_$][\w$.]*)?(Error|Exception)\b[^:]*:")


def write_atomic(path, text):
    """Write via a temp file in the same folder, so readers never see half a report."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; reports should be readable like any file
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def to_html(nb, name, failure=None):
    # 'offline' = the lab template without the CDN scripts (require.js, MathJax, widgets), plus a banner
    # at the top when the run failed, linking to the failed cell.
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[TEMPLATES], embed_images=True)
    resources = {"metadata": {"name": name}}
    if failure is not None:
        nb = copy.deepcopy(nb)
        if failure.index is not None:
            nb.cells[failure.index].metadata["fastbook_failed"] = True
        resources["fastbook_failure"] = failure.banner()
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return html


def first_error_output(nb):
    """Index of the first cell holding an output of type 'error' (kernels other than tslab), else None."""
    for i, cell in enumerate(nb.cells):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return i
    return None


class Failure:
    """Where a run failed and why: the runner's "NOTEBOOK FAILED:" paragraph and the report's banner."""

    def __init__(self, path, nb, index, what):
        self.path, self.index, self.what = path, index, what
        self.stopped = True
        if index is None:
            self.where, self.source = None, []
            return
        code_number = sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code")
        self.where = f"code cell {code_number} (cell {index + 1} of {len(nb.cells)}, counting markdown cells)"
        lines = nb.cells[index].source.strip().splitlines()
        self.source = lines[:6] + ([f"... ({len(lines) - 6} more lines)"] if len(lines) > 6 else [])

    def paragraph(self):
        if self.where is None:
            return f"NOTEBOOK FAILED: {self.path}: {self.what}"
        source = "\n".join("    | " + line for line in self.source)
        return f"NOTEBOOK FAILED: {self.path}, {self.where}: {self.what}\n{source}"

    def banner(self):
        """What the report's template shows above the first cell."""
        return {"where": self.where, "what": self.what, "source": "\n".join(self.source), "anchor": "failed-cell",
                "stopped": self.stopped}


def describe(path, nb, index, what):
    return Failure(path, nb, index, what)


def error_text(cell):
    """The error's name and value. tslab sends no error output and an execute_reply without
    ename/evalue: it prints the stack (or the compiler's messages) to the cell's stderr."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
    stderr = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stderr")
    lines = [line.strip() for line in ANSI.sub("", stderr).splitlines() if line.strip()]
    thrown = next((line for line in lines if ERROR_LINE.match(line)), None)
    if thrown:
        return thrown
    return " / ".join(lines[:3]) or "the kernel reported an error (no message)"


# Seconds a starting kernel has to answer; a start that fails is tried once more (see below).
STARTUP_TIMEOUT = 180


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output_ipynb")
    parser.add_argument("output_html")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    args = parser.parse_args()

    nb = nbformat.read(args.input, as_version=4)
    current = {"index": None}
    errored = []  # cells whose execute_reply said "error", also those allowed to fail

    def on_cell_start(cell, cell_index, **_):
        current["index"] = cell_index

    def on_cell_error(cell, cell_index, **_):
        errored.append(cell_index)

    def new_client(startup_timeout):
        return NotebookClient(
            nb,
            kernel_name="tslab",  # always the project's kernel, whatever the file's metadata says
            timeout=args.timeout,
            startup_timeout=startup_timeout,
            on_cell_start=on_cell_start,
            on_cell_error=on_cell_error,
            # The kernel starts in the notebook's folder, so relative paths in cells mean the same as in Jupyter.
            resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.input))}},
        )

    failure = None
    stopped = True  # whether the run ended at the failure (else errors were in cells that let it go on)
    try:
        try:
            new_client(STARTUP_TIMEOUT).execute()
        except (RuntimeError, TimeoutError):
            # tslab can lose its shell socket while its sockets are still binding (zeromq's EBUSY) and then never
            # answers: with no cell started, a fresh kernel gets one more try.
            if current["index"] is not None:
                raise
            print(f"{args.input}: the tslab kernel did not answer within {STARTUP_TIMEOUT} s; starting a new one", file=sys.stderr)
            new_client(STARTUP_TIMEOUT).execute()
        stopped = False
    except CellExecutionError:
        pass  # the failed cell is in `errored`; handled below
    except CellTimeoutError:
        failure = describe(args.input, nb, current["index"], f"timed out after {args.timeout} s")
    except DeadKernelError as e:
        failure = describe(args.input, nb, current["index"], f"the kernel died ({e})")
    except Exception as e:  # kernel would not start, no such kernelspec, ...
        if current["index"] is None:
            failure = describe(
                args.input, nb, None,
                f"could not start the tslab kernel: {type(e).__name__}: {e}\n"
                "    (run `npm run setup`; it writes .jupyter/kernels/tslab/kernel.json)",
            )
        else:
            failure = describe(args.input, nb, current["index"], f"{type(e).__name__}: {e}")

    # Any error fails the run, also in cells that let execution go on (e.g. tagged raises-exception).
    if failure is None:
        bad = min(errored + [i for i in [first_error_output(nb)] if i is not None], default=None)
        if bad is not None:
            failure = describe(args.input, nb, bad, error_text(nb.cells[bad]))

    if failure is not None:
        failure.stopped = stopped
    name = os.path.splitext(os.path.basename(args.output_html))[0]
    write_atomic(args.output_ipynb, nbformat.writes(nb))
    write_atomic(args.output_html, to_html(nb, name, failure))
    if failure:
        print(failure.paragraph(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
