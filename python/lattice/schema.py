"""The SQLite schema of a replica's store (DESIGN §13), and the statements that upgrade an
older file: :mod:`lattice.store` runs them.

>>> STORE_FORMAT_VERSION, sorted(UPGRADES)
(3, [1, 2])
"""

__all__ = ["LEGACY_WRAPS", "STORE_FORMAT_VERSION", "TABLES", "UPGRADES", "WRAP_FORMAT"]

#: Bumped whenever the schema changes; files of a newer version are refused, older ones are
#: upgraded in place (see ``UPGRADES``).
STORE_FORMAT_VERSION = 3
#: The first format whose home peers wrap client ops in WRAP entries (kind 3), not DATA.
WRAP_FORMAT = 3
#: The meta key of the owner's last seq from before :data:`WRAP_FORMAT` (its DATA entries
#: may hold wrapped client ops whose nonces must still refuse replays).
LEGACY_WRAPS = "legacy_wraps"

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT""",
    """
CREATE TABLE IF NOT EXISTS entries (
    ord     INTEGER PRIMARY KEY,      -- delivery order: a causal order
    id      BLOB    NOT NULL UNIQUE,
    author  BLOB    NOT NULL,
    seq     INTEGER NOT NULL,
    lamport INTEGER NOT NULL,
    kind    INTEGER NOT NULL,
    bytes   BLOB    NOT NULL,         -- exactly as received
    UNIQUE (author, seq)
) STRICT""",
    """
CREATE TABLE IF NOT EXISTS cells (
    observer INTEGER NOT NULL,
    sender   INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (observer, sender)
) STRICT, WITHOUT ROWID""",
)

#: Format 2 (DESIGN §5): fraud proofs and the blocklist they imply, the entries of forked
#: authors kept as evidence (not delivered), the ids observers committed to on a forked
#: author's branches, and penalties of peers that sent invalid fraud proofs.
_SCHEMA_V2 = (
    """
CREATE TABLE IF NOT EXISTS frauds (
    author   BLOB    PRIMARY KEY,      -- blocklisted for good
    seq      INTEGER NOT NULL,         -- the lowest seq proven forked
    proof    BLOB    NOT NULL,         -- the canonical FraudProof
    announce INTEGER NOT NULL          -- 1 until this replica's FRAUD entry is stored
) STRICT""",
    """
CREATE TABLE IF NOT EXISTS evidence (
    ord     INTEGER PRIMARY KEY,
    id      BLOB    NOT NULL UNIQUE,
    author  BLOB    NOT NULL,
    seq     INTEGER NOT NULL,
    lamport INTEGER NOT NULL,
    bytes   BLOB    NOT NULL
) STRICT""",
    """
CREATE TABLE IF NOT EXISTS fork_cells (
    observer INTEGER NOT NULL,
    sender   INTEGER NOT NULL,
    id       BLOB    NOT NULL,
    PRIMARY KEY (observer, sender)
) STRICT, WITHOUT ROWID""",
    """
CREATE TABLE IF NOT EXISTS penalties (
    peer  BLOB    PRIMARY KEY,
    count INTEGER NOT NULL
) STRICT""",
)

#: Format 3 (DESIGN §11): system entries (kinds 16 and up: admission records, vouches,
#: frauds …) found without a scan, for the trust graph a replica rebuilds on opening.
_SCHEMA_V3 = ("CREATE INDEX IF NOT EXISTS entries_system ON entries (kind) WHERE kind >= 16",)

#: Statements that bring a file of format ``key`` to format ``key + 1``.
UPGRADES: dict[int, tuple[str, ...]] = {1: _SCHEMA_V2, 2: _SCHEMA_V3}
#: Every statement of the current format, for a new file.
TABLES = (*_SCHEMA, *_SCHEMA_V2, *_SCHEMA_V3)
