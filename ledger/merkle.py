"""An append-only Merkle tree with RFC 6962 hashing, over a store of perfect subtrees.

The store holds one hash per complete ("perfect") subtree, at (level, index): the
subtree over leaves index * 2**level up to (index + 1) * 2**level - 1. Such a node
never changes once written, so a tree of any size up to the current one can be
rebuilt from the same store. Any subtree the RFC's recursion reaches is either
perfect or a right edge [start, size), which the binary decomposition of its width
tiles with O(log n) perfect subtrees. Every operation therefore computes the
positions it needs first, reads them in one `get_many`, and hashes in memory.

Pure Python, no Django: an auditor's offline verifier can import this module alone.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

Position = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not show what it claims; the message says which check failed."""


class TreeRangeError(ValueError):
    """An index or tree size that no proof or root can exist for."""


class MissingNodeError(LookupError):
    """The store lacks a node that a tree of the given size must have."""


class NodeStore(Protocol):
    def get_many(self, positions: Iterable[Position]) -> dict[Position, bytes]:
        """The stored hashes at those positions; positions never written are absent."""
        ...

    def put_many(self, nodes: Mapping[Position, bytes]) -> None:
        """Store new nodes. Positions are written once, so none is already stored."""
        ...


class DictStore:
    """A NodeStore in memory, for tests and offline tools."""

    def __init__(self) -> None:
        self.nodes: dict[Position, bytes] = {}

    def get_many(self, positions: Iterable[Position]) -> dict[Position, bytes]:
        return {p: self.nodes[p] for p in positions if p in self.nodes}

    def put_many(self, nodes: Mapping[Position, bytes]) -> None:
        self.nodes.update(nodes)


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 §2.1: the 0x00 prefix keeps a leaf from passing for an inner node."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# -- building -------------------------------------------------------------------


def append(store: NodeStore, *, size: int, data: bytes) -> dict[Position, bytes]:
    """The nodes that adding leaf `data` to a tree of `size` leaves completes.

    That is the new leaf at (0, size) and each parent that it completes, at most
    log2(size) + 1 nodes, ready for `store.put_many`. The caller must pass the
    store's current size and serialise appends: two appends at one size fork the log.
    """
    _check_size(size)
    # The leaf completes one parent per trailing one bit of its index: at each such
    # level the left sibling is the perfect subtree just before it.
    levels = _trailing_ones(size)
    siblings = _fetch(store, [(level, (size >> level) - 1) for level in range(levels)])
    current = leaf_hash(data)
    nodes = {(0, size): current}
    for level in range(levels):
        current = node_hash(siblings[(level, (size >> level) - 1)], current)
        nodes[(level + 1, size >> (level + 1))] = current
    return nodes


# -- reading --------------------------------------------------------------------


def root(store: NodeStore, *, size: int) -> bytes:
    """MTH(D[0:size]) of RFC 6962 §2.1: the root hash of the first `size` leaves."""
    _check_size(size)
    if size == 0:
        return EMPTY_ROOT
    return _range_hashes(store, [(0, size)])[0]


def inclusion_proof(store: NodeStore, *, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 6962 §2.1.1, nearest the leaf first.

    Requires 0 <= index < size.
    """
    _check_size(size)
    if not 0 <= index < size:
        raise TreeRangeError(f"leaf index {index} is not in a tree of {size} leaves")
    siblings = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    # The recursion finds siblings from the root down; the proof lists them upwards.
    return _range_hashes(store, siblings[::-1])


def consistency_proof(store: NodeStore, *, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 6962 §2.1.2.

    Requires 0 < old_size <= new_size. Every tree extends the empty tree, so a proof
    from size 0 would prove nothing: the RFC's recursion has no case for it, and
    `verify_consistency` refuses one.
    """
    _check_size(new_size)
    if not 0 < old_size <= new_size:
        raise TreeRangeError(
            f"no consistency proof from {old_size} to {new_size} leaves: "
            "it needs 0 < old size <= new size"
        )
    # SUBPROOF(m, D[lo:hi], b), unrolled, with m = old_size - lo; it ends at m == n.
    ranges = []
    lo, hi = 0, new_size
    while old_size != hi:
        k = _split(hi - lo)
        if old_size <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    # b is true while lo is 0: then D[lo:hi] is the whole old tree, whose root the
    # verifier already holds; otherwise its root is the proof's first node.
    if lo > 0:
        ranges.append((lo, hi))
    return _range_hashes(store, ranges[::-1])


def range_proof(store: NodeStore, *, start: int, end: int, size: int) -> list[bytes]:
    """The proof that leaves [start, end) are in the tree of `size` leaves, in one read.

    The roots of the subtrees that the RFC's recursion reaches outside the range
    without entering it, deepest first and left to right at equal depth: a
    verifier hashes the range's own subtrees from its leaves and joins them with
    these. For one leaf, this is its inclusion proof. Requires 0 <= start < end <= size.
    """
    _check_size(size)
    if not 0 <= start < end <= size:
        raise TreeRangeError(f"leaves {start} to {end - 1} are not in a tree of {size} leaves")
    found: list[tuple[int, Range]] = []
    pending = [(0, size, 0)]
    while pending:
        lo, hi, depth = pending.pop()
        if hi <= start or lo >= end:
            found.append((depth, (lo, hi)))
        elif not (start <= lo and hi <= end):
            k = _split(hi - lo)
            pending += [(lo, lo + k, depth + 1), (lo + k, hi, depth + 1)]
    found.sort(key=lambda subtree: (-subtree[0], subtree[1]))
    return _range_hashes(store, [r for _depth, r in found])


def _range_hashes(store: NodeStore, ranges: Sequence[Range]) -> list[bytes]:
    """MTH of each range, from one `get_many` of the perfect subtrees that tile them.

    Each range is one the RFC's recursion reaches in a tree: perfect, or a right edge
    ending at the tree size. Right edges nest ([a, n) contains [b, n) for a < b), so
    the memo makes the hashing, like the reading, O(log n) for the whole call.
    """
    nodes = _fetch(store, {tile for r in ranges for tile in _tiles(r)})
    memo: dict[Range, bytes] = {}

    def mth(r: Range) -> bytes:
        if r not in memo:
            start, end = r
            level, index = _first_tile(start, end)
            rest = start + (1 << level)
            first = nodes[(level, index)]
            memo[r] = first if rest == end else node_hash(first, mth((rest, end)))
        return memo[r]

    return [mth(r) for r in ranges]


def _tiles(r: Range) -> list[Position]:
    """The perfect subtrees that tile [start, end), the largest (leftmost) first.

    For the ranges of RFC 6962's recursion, start is a multiple of each tile's
    width, so every tile is a stored node.
    """
    start, end = r
    tiles = []
    while start < end:
        tiles.append(_first_tile(start, end))
        start += 1 << tiles[-1][0]
    return tiles


def _first_tile(start: int, end: int) -> Position:
    level = (end - start).bit_length() - 1
    return level, start >> level


def _fetch(store: NodeStore, positions: Iterable[Position]) -> dict[Position, bytes]:
    wanted = set(positions)
    if not wanted:
        return {}
    found = store.get_many(wanted)
    missing = wanted - found.keys()
    if missing:
        raise MissingNodeError(
            f"the store lacks nodes {sorted(missing)}: is the tree size beyond the stored tree?"
        )
    return found


# -- verifying (RFC 9162 §2.1.3.2 and §2.1.4.2) -----------------------------------


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `proof` shows the leaf with `leaf_hash` at `index` in the tree `root`.

    Returns nothing; raises ProofError on any mismatch.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")
    _check_hashes(leaf_hash=leaf_hash, proof=proof)
    expected = inclusion_proof_size(index=index, size=size)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise _wrong_length(proof, expected)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right border a left child has no sibling: rise to where it has one.
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise _wrong_length(proof, expected)
    if r != root:
        raise ProofError("the inclusion proof leads to another root")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree `new_root` of `new_size` extends the tree `old_root` of `old_size`.

    Returns nothing; raises ProofError on any mismatch. Equal sizes need an empty
    proof and equal roots; a proof from the empty tree is refused (it proves nothing).
    """
    if old_size < 1:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old_size > new_size:
        raise ProofError(f"the old size {old_size} is larger than the new size {new_size}")
    _check_hashes(proof=proof)
    expected = consistency_proof_size(old_size=old_size, new_size=new_size)
    if old_size == new_size:
        if proof:
            raise _wrong_length(proof, expected)
        if old_root != new_root:
            raise ProofError("the roots differ, but the sizes are equal")
        return
    if not proof:
        raise _wrong_length(proof, expected)
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a perfect subtree of the new one: its root starts the path.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _wrong_length(proof, expected)
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            # A right sibling: leaves after the old tree, so only the new root has it.
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise _wrong_length(proof, expected)
    if fr != old_root:
        raise ProofError("the consistency proof leads to another old root")
    if sr != new_root:
        raise ProofError("the consistency proof leads to another new root")


def inclusion_proof_size(*, index: int, size: int) -> int:
    """How many nodes PATH(index, D[0:size]) has; requires 0 <= index < size."""
    # Below the level where the paths to `index` and to the last leaf meet, every
    # level has a sibling; above it, only levels where `index` is a right child do.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_size(*, old_size: int, new_size: int) -> int:
    """How many nodes PROOF(old_size, D[0:new_size]) has; requires 0 < old_size <= new_size."""
    if old_size == new_size:
        return 0
    # The inclusion proof of the old tree's last leaf, less the levels inside the
    # largest perfect subtree that ends the old tree, plus that subtree's root
    # unless it is the whole old tree (which the verifier already holds).
    shift = _trailing_zeros(old_size)
    perfect = old_size == 1 << shift
    return inclusion_proof_size(index=old_size - 1, size=new_size) - shift + (not perfect)


def _check_hashes(*, proof: Sequence[bytes], leaf_hash: bytes | None = None) -> None:
    if leaf_hash is not None and len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"the leaf hash has {len(leaf_hash)} bytes, not {HASH_SIZE}")
    for n, node in enumerate(proof):
        if len(node) != HASH_SIZE:
            raise ProofError(f"proof node {n} has {len(node)} bytes, not {HASH_SIZE}")


def _wrong_length(proof: Sequence[bytes], expected: int) -> ProofError:
    many = "many" if len(proof) > expected else "few"
    return ProofError(f"too {many} proof nodes: {len(proof)}, where the sizes need {expected}")


# -- bits -----------------------------------------------------------------------


def _check_size(size: int) -> None:
    if size < 0:
        raise TreeRangeError(f"a tree size cannot be negative ({size})")


def _split(width: int) -> int:
    """RFC 6962's k: the largest power of two smaller than width (width > 1)."""
    return 1 << ((width - 1).bit_length() - 1)


def _trailing_ones(n: int) -> int:
    return (n ^ (n + 1)).bit_length() - 1


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1
