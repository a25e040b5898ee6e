"""Execute every notebook in ``notebooks/`` and save it with its outputs, so a reader browsing
the repository sees the figures and tables.

    python docs/run_notebooks.py                 # all notebooks, in place
    python docs/run_notebooks.py notebooks/02_sensitivity.ipynb

Each notebook runs top to bottom in a fresh kernel (``python3``) in a temporary folder (the
files it writes are thrown away); volatile metadata (execution times) is dropped so that a
re-run changes the file only where an output changed. The test suite executes the same
notebooks in memory (tests/test_notebooks.py) and checks that the committed ones hold outputs.
Needs the ``test`` extra (nbclient, nbformat, ipykernel).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 300  # seconds per cell; each notebook takes about a minute


def run(path: Path) -> None:
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
        nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": tmp}}).execute()
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KB")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path,
                    default=sorted((ROOT / "notebooks").glob("*.ipynb")))
    for p in ap.parse_args(argv).notebooks:
        run(p.resolve())


if __name__ == "__main__":
    main()
