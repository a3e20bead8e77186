"""The entanglement matrix as a picture (``lattice matrix --png``): a heatmap with one
row per observer and one column per sender, each cell the highest seq of the sender the
observer has provably seen (DESIGN §4), and below a line the seq each sender has
*known to a quorum*.

The PNG carries what it shows in a text chunk (``lattice-matrix``: the peers, the rows,
the known-to-quorum row, q, and the pixel box of the cells), so a program can check a
picture against the matrix it claims to draw.

>>> import tempfile, pathlib, json
>>> from PIL import Image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "m.png"
>>> info = render(path, ["a", "b"], [[3, 1], [2, 2]], [2, 1], quorum=2)
>>> image = Image.open(path)
>>> image.size == info.size, json.loads(image.text[PNG_KEY])["rows"]
(True, [[3, 1], [2, 2]])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lattice.errors import InvalidArgument

__all__ = ["DPI", "PNG_KEY", "Picture", "from_reply", "render"]

#: Pixels per inch of the picture.
DPI = 100
#: Inches per cell for small matrices; larger ones share ``MAX_SIDE`` inches.
CELL_INCHES = 0.7
MAX_SIDE = 12.0
#: Margins around the cells, in inches (names, title, colour bar).
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 1.6, 1.4, 1.2, 0.4
#: Matrices up to this size get their numbers written in the cells.
ANNOTATE_UP_TO = 16
#: The PNG text chunk that describes the picture.
PNG_KEY = "lattice-matrix"
COLORMAP = "viridis"
#: The colour bar right of the cells, in inches.
COLORBAR_GAP, COLORBAR_WIDTH = 0.15, 0.25


@dataclass(frozen=True)
class Picture:
    """Where a picture was written and its geometry: ``size`` (width, height) in pixels,
    ``cells`` the pixel box (left, top, right, bottom) of the N + 1 rows of cells (the
    last one is the known-to-quorum row)."""

    path: Path
    size: tuple[int, int]
    cells: tuple[float, float, float, float]


def render(
    path: str | Path,
    peers: Sequence[str],
    rows: Sequence[Sequence[int]],
    known_to_quorum: Sequence[int],
    quorum: int,
    title: str = "entanglement matrix",
) -> Picture:
    """Write the heatmap of an N×N matrix (``rows[o][s]``: what observer ``o`` has seen of
    sender ``s``) with the known-to-quorum row below it, as a PNG at ``path``."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # an optional dependency: pip install "lattice[plot]"
        raise InvalidArgument(
            "drawing the matrix needs matplotlib: pip install 'lattice[plot]'"
        ) from exc
    import numpy as np

    n = len(peers)
    if n == 0 or len(rows) != n or any(len(r) != n for r in rows) or len(known_to_quorum) != n:
        raise InvalidArgument(
            f"a matrix of {n} peers needs {n} rows of {n} cells and {n} quorum values"
        )
    data = np.array([*rows, known_to_quorum], dtype=np.float64)
    side = min(MAX_SIDE, CELL_INCHES * n)
    width = MARGIN_LEFT + side + MARGIN_RIGHT
    height = MARGIN_TOP + side * (n + 1) / n + MARGIN_BOTTOM
    fig = Figure(figsize=(width, height), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes(
        (
            MARGIN_LEFT / width,
            MARGIN_BOTTOM / height,
            side / width,
            side * (n + 1) / n / height,
        )
    )
    image = ax.imshow(data, cmap=COLORMAP, aspect="auto", interpolation="nearest")
    image.set_clim(0, max(1.0, float(data.max())))
    # The known-to-quorum line: everything below it is what q observers agree on.
    ax.axhline(n - 0.5, color="red", linewidth=3)
    labels = list(peers)
    if n <= ANNOTATE_UP_TO:
        ax.set_xticks(range(n), labels)
        ax.set_yticks(range(n + 1), [*labels, f"known to q={quorum}"])
        top = max(1.0, float(data.max()))
        for (r, c), value in np.ndenumerate(data):
            ax.text(c, r, f"{int(value)}", ha="center", va="center", fontsize=9,
                    color="black" if value > top * 0.6 else "white")  # fmt: skip
    else:
        ax.set_yticks([n], [f"known to q={quorum}"])
    ax.xaxis.tick_top()
    ax.set_xlabel("sender (column: whose log)")
    ax.xaxis.set_label_position("top")
    ax.set_ylabel("observer (row: who has seen it)")
    bar = fig.add_axes(
        (
            (MARGIN_LEFT + side + COLORBAR_GAP) / width,
            MARGIN_BOTTOM / height,
            COLORBAR_WIDTH / width,
            side * (n + 1) / n / height,
        )
    )
    fig.colorbar(image, cax=bar, label="seq seen")
    fig.suptitle(title)
    canvas.draw()  # type: ignore[no-untyped-call]
    box = ax.get_window_extent()
    size = (round(width * DPI), round(height * DPI))
    cells = (float(box.x0), size[1] - float(box.y1), float(box.x1), size[1] - float(box.y0))
    meta = {
        "peers": labels,
        "rows": [list(map(int, r)) for r in rows],
        "known_to_quorum": list(map(int, known_to_quorum)),
        "quorum": quorum,
        "cells": cells,
    }
    target = Path(path)
    fig.savefig(target, format="png", dpi=DPI, metadata={PNG_KEY: json.dumps(meta)})
    return Picture(target, size, cells)


def from_reply(path: str | Path, matrix: dict[str, Any], title: str) -> Picture:
    """Draw a node's ``matrix`` reply (:meth:`lattice.net.node.Node.matrix`)."""
    if not matrix.get("rows"):
        raise InvalidArgument("this node keeps only its own column: no matrix to draw")
    return render(
        path, matrix["peers"], matrix["rows"], matrix["known_to_quorum"], matrix["quorum"], title
    )
