"""RFC 6962 Merkle tree proofs, checked.

Leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right), the tree
over n leaves split at the largest power of two below n (RFC 6962 §2.1, the same
in RFC 9162). Written here again, from the RFCs, so that no operator code stands
between an auditor and the proofs.

A bundle proves many consecutive receipts at once with a *range proof*: the
roots of the subtrees that RFC 6962's recursion over the whole tree reaches
outside the range without entering it, deepest first and left to right at equal
depth. The range's own subtrees are hashed from its leaves. For a single leaf
those roots are exactly its audit path (RFC 6962 §2.1.1), nearest the leaf first,
so inclusion proofs are checked by the same code.
"""

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32


class ProofError(ValueError):
    """A proof does not show what it claims; the message says which check failed."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def range_root(*, start: int, size: int, leaves: Sequence[bytes], proof: Sequence[bytes]) -> bytes:
    """The root of the tree of `size` leaves whose leaves start.. are the hashes `leaves`.

    `proof` is the range proof (see the module's docstring). Raises ProofError
    if the range is not in the tree or the proof has the wrong number of nodes;
    the caller compares the root with a signed one.
    """
    end = start + len(leaves)
    if not 0 <= start < end <= size:
        raise ProofError(f"leaves {start} to {end - 1} are not in a tree of {size} leaves")
    _check_hashes(leaves, "leaf hash")
    _check_hashes(proof, "proof node")
    outside = outside_subtrees(start=start, end=end, size=size)
    if len(proof) != len(outside):
        many = "many" if len(proof) > len(outside) else "few"
        raise ProofError(
            f"too {many} proof nodes: {len(proof)}, where the sizes need {len(outside)}"
        )
    given = dict(zip(outside, proof, strict=True))

    def mth(lo: int, hi: int) -> bytes:
        if (lo, hi) in given:
            return given[(lo, hi)]
        if start <= lo and hi <= end:
            return _subtree_root(leaves[lo - start : hi - start])
        k = _split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, size)


def outside_subtrees(*, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """The subtrees [lo, hi) whose roots a range proof of leaves [start, end) lists, in order."""
    found: list[tuple[int, int, int]] = []  # (depth, lo, hi)

    def walk(lo: int, hi: int, depth: int) -> None:
        if hi <= start or lo >= end:
            found.append((depth, lo, hi))
        elif not (start <= lo and hi <= end):
            k = _split(hi - lo)
            walk(lo, lo + k, depth + 1)
            walk(lo + k, hi, depth + 1)

    walk(0, size, 0)
    found.sort(key=lambda subtree: (-subtree[0], subtree[1]))
    return [(lo, hi) for _depth, lo, hi in found]


def _subtree_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive leaves, bottom up: pairing neighbours and carrying an odd last
    node up unchanged builds RFC 6962's tree, whose left subtrees are the perfect ones."""
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an RFC 6962 audit path of the leaf at `index`; raise ProofError if it fails."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")
    if range_root(start=index, size=size, leaves=[leaf_hash], proof=proof) != root:
        raise ProofError("the inclusion proof leads to another root")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree `new_root` extends the tree `old_root` (RFC 9162 §2.1.4.2).

    Raises ProofError on any mismatch. Equal sizes need an empty proof and equal
    roots; a proof from the empty tree is refused, since it proves nothing.
    """
    if old_size < 1:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old_size > new_size:
        raise ProofError(f"the old size {old_size} is larger than the new size {new_size}")
    _check_hashes(proof, "proof node")
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if old_root != new_root:
            raise ProofError("the roots differ, but the sizes are equal")
        return
    if not proof:
        raise ProofError("the proof is empty")
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
            raise ProofError("the proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            # A right sibling: leaves after the old tree, so only the new root has it.
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is too short")
    if fr != old_root:
        raise ProofError("the consistency proof leads to another old root")
    if sr != new_root:
        raise ProofError("the consistency proof leads to another new root")


def _check_hashes(hashes: Sequence[bytes], what: str) -> None:
    for n, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise ProofError(f"{what} {n} has {len(value)} bytes, not {HASH_SIZE}")


def _split(width: int) -> int:
    """RFC 6962's k: the largest power of two smaller than width (width > 1)."""
    return 1 << ((width - 1).bit_length() - 1)
