#!/usr/bin/python3
"""What Jupyter Notebook writes into a notebook's metadata when it opens it on the project's kernel.

usage: kernel_info.py   (run with the environment of scripts/jupyter-env.mjs)

Starts the tslab kernel, asks for its kernel_info, and prints one JSON object:
{"language_info": <the kernel's reply>, "kernelspec": {"name", "display_name", "language"}}, the two
entries the notebook frontend replaces (and marks the notebook changed when they differ).
"""
import json

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

NAME = "tslab"

spec = KernelSpecManager().get_kernel_spec(NAME)
km = KernelManager(kernel_name=NAME)
km.start_kernel()
try:
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=600)
    reply = kc.kernel_info(reply=True, timeout=600)
    kc.stop_channels()
    del kc  # closed here, not at interpreter exit (where its destructor's logging fails)
finally:
    km.shutdown_kernel(now=True)

print(json.dumps({
    "language_info": reply["content"]["language_info"],
    "kernelspec": {"name": NAME, "display_name": spec.display_name, "language": spec.language},
}))
