"""One document over the network (issue 11): three real node processes in network
namespaces; two edit one text concurrently through ``lattice doc``, one of them is cut off
and both keep editing, the cable goes back in — and all three end with the same text, the
same encoded state and the same entanglement matrix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cluster import Cluster, ClusterNode
from lattice.net.process import child_env
from netns import Net

PORT = 7100
DOC = "notes"


def cli(node: ClusterNode, *args: str) -> str:
    """``lattice doc …`` against the node, as a user types it."""
    done = subprocess.run(
        [sys.executable, "-m", "lattice.cli", "doc", *args, "--config", str(node.config)],
        capture_output=True, text=True, env=child_env(), check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


def show(node: ClusterNode) -> dict[str, object]:
    return dict(json.loads(cli(node, "show", DOC, "--json")))


def test_two_writers_edit_across_a_partition_and_all_three_converge(
    net: Net, tmp_path: Path
) -> None:
    net.switch("sw")
    ip = {"a": "10.78.0.1", "b": "10.78.0.2", "c": "10.78.0.3"}
    cable = {}
    for host in "abc":
        net.host(host)
        cable[host] = net.plug(host, "sw", f"{ip[host]}/24")
    cluster = Cluster.create(
        tmp_path, list("abc"), [("a", "b"), ("b", "c"), ("a", "c")],
        addresses={h: (ip[h], PORT) for h in "abc"}, netns={h: net.ns(h) for h in "abc"},
    )  # fmt: skip
    cluster.start()
    a, b, c = (cluster[n] for n in "abc")

    def texts() -> list[str]:
        return [str(n.call("doc_show", doc=DOC)["text"]) for n in (a, b, c)]

    try:
        assert cli(a, "insert", DOC, "0", "hello world").startswith("inserted: seq ")
        cluster.wait(lambda: texts() == ["hello world"] * 3, what="the first edit everywhere")
        # Concurrent edits while connected.
        a.call("doc_insert", doc=DOC, index=5, value=" there")
        b.call("doc_insert", doc=DOC, index=11, value="!")
        cluster.wait(lambda: len(set(texts())) == 1, what="the edits merged")
        merged = texts()[0]
        assert sorted(merged) == sorted("hello there world!") and merged.startswith("hello ")

        net.cut("a", cable["a"])
        for i in range(4):  # both keep editing, apart
            a.call("doc_insert", doc=DOC, index=0, value=f"a{i} ")
            b.call("doc_insert", doc=DOC, index=len(texts()[1]), value=f" b{i}")
        cli(b, "delete", DOC, "0", "6")  # b deletes "hello " — a still has it
        a.call("doc_delete", doc=DOC, index=0, length=3)  # a takes back its last "a3 "
        apart_a, apart_b, _ = texts()
        assert apart_a != apart_b
        assert "hello" in apart_a and "b3" not in apart_a and "hello" not in apart_b

        net.reconnect("a", cable["a"])
        cluster.wait(
            lambda: len(set(texts())) == 1 and cluster.converged(),
            timeout=60, what="the text converged after the partition",
        )  # fmt: skip
        cluster.wait(cluster.matrices_equal, timeout=30, what="identical matrices")
        final = [show(n) for n in (a, b, c)]
        assert len({f["state"] for f in final}) == 1, "identical encoded state"
        assert len({f["text"] for f in final}) == 1 and not final[0]["rejected"]
        text = str(final[0]["text"])
        assert text == "a2 a1 a0 " + merged[6:] + " b0 b1 b2 b3", text
        assert cluster.converged() and cluster.matrices_equal()
        assert cli(c, "show", DOC) == text + "\n"  # the plain form: the text alone
    finally:
        cluster.stop()
