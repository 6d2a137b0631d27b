#!/usr/bin/env python3
"""Execute the example notebooks (examples/*.ipynb) headless and save their figures and printed
lines into docs/figures/ (docs/PYTHON.md shows them). Needs the built module on PYTHONPATH
(build/python), nbclient and an IPython kernel:

    PYTHONPATH=build/python python3 examples/render.py
"""
import base64
import os
import sys
import tempfile

import nbclient
import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "docs", "figures")


def main():
    os.environ.setdefault("L5SIM_ROOT", ROOT)
    # The kernels run in a scratch directory: the module's path must not be relative.
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths = [os.path.abspath(p) for p in paths] or [os.path.join(ROOT, "build", "python")]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    for name in ("closed_loop", "fi_sweep"):
        nb = nbformat.read(os.path.join(HERE, name + ".ipynb"), as_version=4)
        with tempfile.TemporaryDirectory(prefix="l5sim_render_") as tmp:
            nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                    resources={"metadata": {"path": tmp}}).execute()
        images, text = 0, []
        for cell in nb.cells:
            for o in cell.get("outputs", []):
                if o.get("output_type") == "stream" and o.get("name") == "stdout":
                    text.append(o["text"])
                png = o.get("data", {}).get("image/png")
                if png:
                    path = os.path.join(OUT, f"python_{name}.png")
                    with open(path, "wb") as f:
                        f.write(base64.b64decode(png))
                    images += 1
        with open(os.path.join(OUT, f"python_{name}.txt"), "w") as f:
            f.write("".join(text))
        print(f"{name}: {images} figure(s); printed:\n" + "".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
