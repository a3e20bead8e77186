"""Lattice on the network (DESIGN §7): the asyncio node and its sessions, one per role,
the Noise connection and wire messages, configuration, the local control socket, the
client, the equivocating adversary, and drivers for nodes and adversaries as processes.

>>> from lattice.net import Node, NodeConfig, load
>>> Node.__module__, NodeConfig.__module__
('lattice.net.node', 'lattice.net.config')
"""

from __future__ import annotations

from lattice.net.client import Client
from lattice.net.config import Member, NodeConfig, load, render
from lattice.net.connection import Connection, Limits
from lattice.net.local import local_swarm
from lattice.net.node import Node
from lattice.net.process import AdversaryProcess, NodeProcess, child_env, free_ports

__all__ = [
    "AdversaryProcess",
    "Client",
    "Connection",
    "Limits",
    "Member",
    "Node",
    "NodeConfig",
    "NodeProcess",
    "child_env",
    "free_ports",
    "load",
    "local_swarm",
    "render",
]
