"""The matrix as a picture (lattice.heatmap, ``lattice matrix --png``): the PNG is an image
of the matrix it claims to show — its size, its N + 1 rows of N cells (the last one the
known-to-quorum row), and each cell's colour ordered by its value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import lattice
from cluster import Cluster
from lattice import heatmap
from lattice.cli import main
from lattice.errors import InvalidArgument


def _luminance(rgb: tuple[int, ...]) -> float:
    r, g, b = rgb[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def check_picture(path: Path, rows: list[list[int]], known: list[int]) -> None:
    """Open the PNG and check it shows exactly this matrix."""
    image = Image.open(path)
    meta = json.loads(image.text[heatmap.PNG_KEY])
    assert meta["rows"] == rows and meta["known_to_quorum"] == known
    n = len(rows)
    left, top, right, bottom = meta["cells"]
    width, height = image.size
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    # The cells are about square: N columns, N + 1 rows.
    cell_w, cell_h = (right - left) / n, (bottom - top) / (n + 1)
    assert abs(cell_w - cell_h) < 2
    pixels = image.convert("RGB")
    values = [*rows, known]
    colour: dict[int, tuple[int, ...]] = {}
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            # Sample off the centre, clear of the number written there.
            x = left + (c + 0.15) * cell_w
            y = top + (r + 0.15) * cell_h
            seen = pixels.getpixel((int(x), int(y)))
            assert isinstance(seen, tuple)
            if value in colour:
                assert seen == colour[value], (r, c, value)
            colour[value] = seen
    # viridis grows brighter with the value: the picture orders the cells as the matrix.
    ordered = [colour[v] for v in sorted(colour)]
    lum = [_luminance(c) for c in ordered]
    assert lum == sorted(lum) and len(set(ordered)) == len(ordered)
    # The known-to-quorum line between the matrix and the quorum row is red.
    line = pixels.getpixel((int(left + cell_w * 0.5), int(top + n * cell_h)))
    assert isinstance(line, tuple) and line[0] > 200 and line[1] < 80 and line[2] < 80


def test_a_replicas_matrix_as_a_picture(tmp_path: Path) -> None:
    ids = [lattice.Identity.generate() for _ in range(4)]
    peers = [i.public_key for i in ids]
    reps = [lattice.Replica(i, peers=peers) for i in ids]
    for round_ in range(3):
        for i, r in enumerate(reps):
            for _ in range(i + 1):
                e = r.append(b"x")
                for other in reps[: round_ + 1]:
                    other.receive([e])
        for r in reps:
            noop = r.noop()
            for other in reps:
                other.receive([noop])
    m = reps[0].matrix
    rows = [[m.cell(o, s) for s in peers] for o in peers]
    known = [m.known_to_quorum()[p] for p in peers]
    assert len({v for row in rows for v in row}) > 2, "a matrix worth drawing"
    picture = heatmap.render(tmp_path / "m.png", list("ABCD"), rows, known, m.quorum)
    assert Image.open(picture.path).size == picture.size
    check_picture(picture.path, rows, known)


def test_bad_shapes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="2 rows of 2 cells"):
        heatmap.render(tmp_path / "x.png", ["a", "b"], [[1, 2]], [1, 1], quorum=1)
    with pytest.raises(InvalidArgument, match="only its own column"):
        heatmap.from_reply(tmp_path / "x.png", {"rows": []}, "t")
    assert not (tmp_path / "x.png").exists()


def test_lattice_matrix_png_of_a_running_node(tmp_path: Path) -> None:
    cluster = Cluster.create(tmp_path, ["a", "b", "c"], [("b", "a"), ("c", "b")])
    cluster.start()
    try:
        for n in cluster.nodes:
            n.append(f"{n.name} writes")
        cluster.wait(lambda: min(cluster["a"].matrix()["known_to_quorum"]) >= 1, what="a quorum")
        out = tmp_path / "a.png"
        for _ in range(50):  # a matrix that did not move while it was drawn
            before = cluster["a"].matrix()
            result = CliRunner().invoke(
                main, ["matrix", "--config", str(cluster["a"].config), "--png", str(out)]
            )
            assert result.exit_code == 0, result.output
            if cluster["a"].matrix() == before:
                break
        assert f"wrote {out}" in result.output
        meta = json.loads(Image.open(out).text[heatmap.PNG_KEY])
        assert meta["peers"] == before["peers"] == ["a", "b", "c"]
        assert meta["rows"] == before["rows"] and len(before["rows"]) == 3
        assert meta["known_to_quorum"] == before["known_to_quorum"]
        check_picture(out, before["rows"], before["known_to_quorum"])
        bad = CliRunner().invoke(
            main,
            ["matrix", "--config", str(cluster["a"].config), "--png", str(tmp_path / "no/x.png")],
        )
        assert bad.exit_code != 0 and "Traceback" not in bad.output
    finally:
        cluster.stop()
