"""The Merkle tree: RFC 6962 known answers, the public proof vectors, generated proofs
and their mutations, and how many stored nodes each operation reads."""

import base64
import json
import math
import random
from pathlib import Path

import pytest

from ledger import merkle
from ledger.merkle import DictStore, ProofError, TreeRangeError

VECTORS = Path(__file__).resolve().parent.parent / "data" / "rfc6962"
VECTOR_FILES = sorted(VECTORS.rglob("*.json"))

# Certificate Transparency's reference tree (transparency-dev/merkle testonly/constants.go).
LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# Every perfect subtree of the 8-leaf reference tree, by (level, index).
NODES = {
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

MAX = 40  # generated proofs cover every index and size up to this many leaves


def build(leaves) -> DictStore:
    store = DictStore()
    for size, data in enumerate(leaves):
        store.put_many(merkle.append(store, size=size, data=data))
    return store


class CountingStore(DictStore):
    """Records every get_many: the positions it asked for, call by call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[set] = []

    def get_many(self, positions):
        self.calls.append(set(positions))
        return super().get_many(self.calls[-1])


@pytest.fixture(scope="module")
def tree():
    """A store of MAX distinct leaves, with the roots of every size."""
    leaves = [f"receipt {n}".encode() for n in range(MAX)]
    store = build(leaves)
    roots = [merkle.root(store, size=size) for size in range(MAX + 1)]
    return store, leaves, roots


INCLUSIONS = [(index, size) for size in range(1, MAX + 1) for index in range(size)]
CONSISTENCIES = [(old, new) for new in range(1, MAX + 1) for old in range(1, new + 1)]


def _flip(proof: list[bytes], n: int) -> list[bytes]:
    node = bytearray(proof[n])
    node[n % 32] ^= 1 << (n % 8)
    return [*proof[:n], bytes(node), *proof[n + 1 :]]


# -- known answers ----------------------------------------------------------------


def test_empty_root_is_the_hash_of_nothing():
    assert merkle.root(DictStore(), size=0) == merkle.EMPTY_ROOT == ROOTS[0]


def test_leaf_hash_of_the_empty_string_is_rfc_6962s():
    assert merkle.leaf_hash(b"").hex() == NODES[(0, 0)]


def test_node_hash_joins_two_leaves_with_the_0x01_prefix():
    left, right = merkle.leaf_hash(LEAVES[0]), merkle.leaf_hash(LEAVES[1])

    assert merkle.node_hash(left, right) == ROOTS[2]


@pytest.mark.parametrize("size", range(9))
def test_root_of_the_reference_tree(size):
    assert merkle.root(build(LEAVES), size=size) == ROOTS[size]


def test_appends_store_exactly_the_reference_trees_perfect_subtrees():
    assert {p: h.hex() for p, h in build(LEAVES).nodes.items()} == NODES


def test_vector_roots_are_the_reference_trees_roots():
    roots = {}
    for path in VECTOR_FILES:
        case = json.loads(path.read_text())
        if path.name == "happy-path.json" and "treeSize" in case:
            roots[case["treeSize"]] = case["root"]
        elif path.name == "happy-path.json":
            roots[case["size1"]] = case["root1"]
            roots[case["size2"]] = case["root2"]

    assert {size: base64.b64decode(r) for size, r in roots.items()} == {
        size: ROOTS[size] for size in roots
    }


# -- the public proof vectors ----------------------------------------------------


def _verify_vector(case: dict) -> None:
    def b64(text):
        return base64.b64decode(text)

    proof = [b64(node) for node in case["proof"] or []]
    if "leafIdx" in case:
        merkle.verify_inclusion(
            leaf_hash=b64(case["leafHash"]), index=case["leafIdx"], size=case["treeSize"],
            proof=proof, root=b64(case["root"]),
        )  # fmt: skip
    else:
        merkle.verify_consistency(
            old_size=case["size1"], new_size=case["size2"],
            old_root=b64(case["root1"]), new_root=b64(case["root2"]), proof=proof,
        )  # fmt: skip


def test_all_vector_files_are_found():
    assert len(VECTOR_FILES) == 196


@pytest.mark.parametrize(
    "path", VECTOR_FILES, ids=[str(p.relative_to(VECTORS)) for p in VECTOR_FILES]
)
def test_verifier_agrees_with_vector(path):
    case = json.loads(path.read_text())
    if case["wantErr"]:
        with pytest.raises(ProofError):
            _verify_vector(case)
    else:
        _verify_vector(case)


# -- generated proofs -------------------------------------------------------------


def test_every_generated_inclusion_proof_verifies(tree):
    store, leaves, roots = tree
    for index, size in INCLUSIONS:
        proof = merkle.inclusion_proof(store, index=index, size=size)
        merkle.verify_inclusion(
            leaf_hash=merkle.leaf_hash(leaves[index]), index=index, size=size,
            proof=proof, root=roots[size],
        )  # fmt: skip


def test_every_generated_consistency_proof_verifies(tree):
    store, _leaves, roots = tree
    for old, new in CONSISTENCIES:
        proof = merkle.consistency_proof(store, old_size=old, new_size=new)
        merkle.verify_consistency(
            old_size=old, new_size=new, old_root=roots[old], new_root=roots[new], proof=proof
        )


def test_a_range_proof_of_one_leaf_is_its_inclusion_proof(tree):
    store, _leaves, _roots = tree
    for index, size in INCLUSIONS:
        assert merkle.range_proof(store, start=index, end=index + 1, size=size) == (
            merkle.inclusion_proof(store, index=index, size=size)
        )


def test_a_range_proof_of_the_whole_tree_is_empty(tree):
    store, _leaves, _roots = tree

    assert merkle.range_proof(store, start=0, end=MAX, size=MAX) == []


def _removed(proof: list[bytes], n: int) -> list[bytes]:
    return proof[:n] + proof[n + 1 :]


# Each maps a true claim, and the roots of every size, to wrong claims made from it.
INCLUSION_MUTATIONS = {
    "bit-flipped-in-a-node": lambda c, roots: [
        {**c, "proof": _flip(c["proof"], n)} for n in range(len(c["proof"]))
    ],
    "node-removed": lambda c, roots: [
        {**c, "proof": _removed(c["proof"], n)} for n in range(len(c["proof"]))
    ],
    "node-appended": lambda c, roots: [{**c, "proof": [*c["proof"], roots[c["size"]]]}],
    "wrong-leaf": lambda c, roots: [{**c, "leaf_hash": merkle.leaf_hash(b"not logged")}],
    "wrong-index": lambda c, roots: [
        {**c, "index": other} for other in {c["index"] - 1, c["index"] + 1} & set(range(c["size"]))
    ],
    # A checkpoint binds a root to its size: claim the leaf in another size's tree.
    "wrong-size": lambda c, roots: [
        {**c, "size": other, "root": roots[other]}
        for other in {c["size"] - 1, c["size"] + 1} & set(range(c["index"] + 1, MAX + 1))
    ],
    "wrong-root": lambda c, roots: [{**c, "root": roots[c["size"] - 1]}],
}
CONSISTENCY_MUTATIONS = {
    "bit-flipped-in-a-node": lambda c, roots: [
        {**c, "proof": _flip(c["proof"], n)} for n in range(len(c["proof"]))
    ],
    "node-removed": lambda c, roots: [
        {**c, "proof": _removed(c["proof"], n)} for n in range(len(c["proof"]))
    ],
    "node-appended": lambda c, roots: [{**c, "proof": [*c["proof"], roots[c["new_size"]]]}],
    "wrong-old-size": lambda c, roots: [
        {**c, "old_size": other, "old_root": roots[other]}
        for other in {c["old_size"] - 1, c["old_size"] + 1} & set(range(1, c["new_size"] + 1))
    ],
    "wrong-new-size": lambda c, roots: [
        {**c, "new_size": other, "new_root": roots[other]}
        for other in {c["new_size"] - 1, c["new_size"] + 1} & set(range(c["old_size"], MAX + 1))
    ],
    "wrong-old-root": lambda c, roots: [{**c, "old_root": roots[c["old_size"] - 1]}],
    "wrong-new-root": lambda c, roots: [{**c, "new_root": roots[c["new_size"] - 1]}],
}


@pytest.mark.parametrize("mutation", INCLUSION_MUTATIONS)
def test_mutated_inclusion_proofs_are_rejected(tree, mutation):
    store, leaves, roots = tree
    accepted, tried = [], 0
    for index, size in INCLUSIONS:
        true = {
            "leaf_hash": merkle.leaf_hash(leaves[index]), "index": index, "size": size,
            "proof": merkle.inclusion_proof(store, index=index, size=size), "root": roots[size],
        }  # fmt: skip
        for claim in INCLUSION_MUTATIONS[mutation](true, roots):
            tried += 1
            try:
                merkle.verify_inclusion(**claim)
            except ProofError:
                continue
            accepted.append((index, size))

    assert accepted == []
    assert tried >= len(INCLUSIONS) - MAX  # the mutation did apply


@pytest.mark.parametrize("mutation", CONSISTENCY_MUTATIONS)
def test_mutated_consistency_proofs_are_rejected(tree, mutation):
    store, _leaves, roots = tree
    accepted, tried = [], 0
    for old, new in CONSISTENCIES:
        true = {
            "old_size": old, "new_size": new, "old_root": roots[old], "new_root": roots[new],
            "proof": merkle.consistency_proof(store, old_size=old, new_size=new),
        }  # fmt: skip
        for claim in CONSISTENCY_MUTATIONS[mutation](true, roots):
            tried += 1
            try:
                merkle.verify_consistency(**claim)
            except ProofError:
                continue
            accepted.append((old, new))

    assert accepted == []
    assert tried >= len(CONSISTENCIES) - MAX


def test_proofs_have_the_sizes_the_verifier_expects(tree):
    store, _leaves, _roots = tree
    for index, size in INCLUSIONS:
        proof = merkle.inclusion_proof(store, index=index, size=size)
        assert len(proof) == merkle.inclusion_proof_size(index=index, size=size)
    for old, new in CONSISTENCIES:
        proof = merkle.consistency_proof(store, old_size=old, new_size=new)
        assert len(proof) == merkle.consistency_proof_size(old_size=old, new_size=new)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"proof": lambda p: p[:-1]}, "too few proof nodes: 3, where the sizes need 4"),
        ({"proof": lambda p: [*p, p[0]]}, "too many proof nodes: 5, where the sizes need 4"),
        ({"proof": lambda p: [p[0][:31], *p[1:]]}, "proof node 0 has 31 bytes, not 32"),
        ({"index": lambda i: 10}, "leaf index 10 is not in a tree of 10 leaves"),
        ({"leaf_hash": lambda h: h[:16]}, "the leaf hash has 16 bytes, not 32"),
        ({"leaf_hash": lambda h: bytes(32)}, "the inclusion proof leads to another root"),
    ],
)
def test_inclusion_verifier_names_the_check_that_failed(tree, change, message):
    store, leaves, roots = tree
    claim = {
        "leaf_hash": merkle.leaf_hash(leaves[3]), "index": 3, "size": 10, "root": roots[10],
        "proof": merkle.inclusion_proof(store, index=3, size=10),
    }  # fmt: skip
    claim.update({key: mutate(claim[key]) for key, mutate in change.items()})

    with pytest.raises(ProofError, match=message):
        merkle.verify_inclusion(**claim)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"proof": lambda p: p[:-1]}, "too few proof nodes: 4, where the sizes need 5"),
        ({"proof": lambda p: [*p, p[0]]}, "too many proof nodes: 6, where the sizes need 5"),
        ({"proof": lambda p: []}, "too few proof nodes: 0, where the sizes need 5"),
        ({"old_size": lambda s: 11}, "the old size 11 is larger than the new size 10"),
        ({"old_size": lambda s: 0}, "a consistency proof from the empty tree proves nothing"),
        ({"old_root": lambda r: bytes(32)}, "leads to another old root"),
        ({"new_root": lambda r: bytes(32)}, "leads to another new root"),
    ],
)
def test_consistency_verifier_names_the_check_that_failed(tree, change, message):
    store, _leaves, roots = tree
    claim = {
        "old_size": 3, "new_size": 10, "old_root": roots[3], "new_root": roots[10],
        "proof": merkle.consistency_proof(store, old_size=3, new_size=10),
    }  # fmt: skip
    claim.update({key: mutate(claim[key]) for key, mutate in change.items()})

    with pytest.raises(ProofError, match=message):
        merkle.verify_consistency(**claim)


def test_equal_sizes_need_equal_roots_and_no_proof(tree):
    _store, _leaves, roots = tree
    merkle.verify_consistency(
        old_size=7, new_size=7, old_root=roots[7], new_root=roots[7], proof=[]
    )

    with pytest.raises(ProofError, match="the roots differ, but the sizes are equal"):
        merkle.verify_consistency(
            old_size=7, new_size=7, old_root=roots[7], new_root=roots[6], proof=[]
        )
    with pytest.raises(ProofError, match="too many proof nodes: 1, where the sizes need 0"):
        merkle.verify_consistency(
            old_size=7, new_size=7, old_root=roots[7], new_root=roots[7], proof=[roots[7]]
        )


# -- arguments out of range ---------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        (merkle.root, {"size": -1}),
        (merkle.append, {"size": -1, "data": b""}),
        (merkle.inclusion_proof, {"index": 3, "size": 3}),
        (merkle.inclusion_proof, {"index": -1, "size": 3}),
        (merkle.inclusion_proof, {"index": 0, "size": 0}),
        (merkle.consistency_proof, {"old_size": 4, "new_size": 3}),
        (merkle.consistency_proof, {"old_size": 0, "new_size": 3}),
        (merkle.consistency_proof, {"old_size": -1, "new_size": 3}),
        (merkle.range_proof, {"start": 2, "end": 2, "size": 3}),
        (merkle.range_proof, {"start": 2, "end": 4, "size": 3}),
        (merkle.range_proof, {"start": -1, "end": 2, "size": 3}),
    ],
)
def test_impossible_arguments_are_refused(tree, operation, arguments):
    store, _leaves, _roots = tree

    with pytest.raises(TreeRangeError):
        operation(store, **arguments)


def test_a_size_beyond_the_stored_tree_is_missing_nodes(tree):
    store, _leaves, _roots = tree

    with pytest.raises(merkle.MissingNodeError):
        merkle.inclusion_proof(store, index=0, size=MAX + 1)


# -- nodes read ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_tree():
    store = CountingStore()
    for size in range(2**16):
        store.put_many(merkle.append(store, size=size, data=size.to_bytes(4, "big")))
    return store


def _sizes():
    """Sizes from 2 to 2**16 with every shape of right edge, and a random sample.

    (Smaller trees need no stored node for a proof, so they make no call at all.)
    """
    edges = {2**k + d for k in range(1, 17) for d in (-1, 0, 1)} - {1, 2**16 + 1}
    return sorted(edges | set(random.Random(6962).sample(range(2, 2**16), 200)))


def _bound(size: int) -> float:
    return 2 * math.log2(size) + 2


def test_appending_reads_and_writes_o_log_n_nodes():
    store = CountingStore()
    for size in range(2**12):
        store.calls.clear()
        written = merkle.append(store, size=size, data=b"x")
        assert len(store.calls) <= 1
        assert sum(len(c) for c in store.calls) <= math.log2(size + 1)
        assert len(written) <= math.log2(size + 1) + 1
        store.put_many(written)


def test_inclusion_proof_reads_o_log_n_nodes_in_one_call(big_tree):
    rng = random.Random(1)
    for size in _sizes():
        for index in {0, size // 2, size - 1, rng.randrange(size)}:
            big_tree.calls.clear()
            merkle.inclusion_proof(big_tree, index=index, size=size)
            assert len(big_tree.calls) == 1
            assert len(big_tree.calls[0]) <= _bound(size), (index, size)


def test_consistency_proof_reads_o_log_n_nodes_in_one_call(big_tree):
    rng = random.Random(2)
    for size in _sizes():
        for old in {1, size // 2, size - 1, rng.randrange(1, size)}:
            big_tree.calls.clear()
            merkle.consistency_proof(big_tree, old_size=old, new_size=size)
            assert len(big_tree.calls) == 1
            assert len(big_tree.calls[0]) <= _bound(size), (old, size)


def test_range_proof_reads_o_log_n_nodes_in_one_call(big_tree):
    rng = random.Random(3)
    for size in _sizes():
        start = rng.randrange(size)
        for end in {start + 1, (start + size + 1) // 2, size}:
            big_tree.calls.clear()
            merkle.range_proof(big_tree, start=start, end=end, size=size)
            assert len(big_tree.calls) <= 1
            assert sum(len(c) for c in big_tree.calls) <= 2 * _bound(size), (start, end, size)


def test_root_reads_one_node_per_set_bit_of_the_size_in_one_call(big_tree):
    for size in _sizes():
        big_tree.calls.clear()
        merkle.root(big_tree, size=size)
        assert [len(c) for c in big_tree.calls] == [size.bit_count()]
