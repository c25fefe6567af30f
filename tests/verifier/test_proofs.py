"""The verifier's own RFC 6962 code: the public proof vectors, and range proofs as the
operator makes them."""

import base64
import json
from pathlib import Path

import pytest
from omadata_verifier import merkle
from omadata_verifier.merkle import ProofError

from ledger import merkle as operator_merkle

VECTORS = Path(__file__).resolve().parent.parent / "data" / "rfc6962"
VECTOR_FILES = sorted(VECTORS.rglob("*.json"))
MAX = 24


def _verify_vector(case: dict) -> None:
    proof = [base64.b64decode(node) for node in case["proof"] or []]
    if "leafIdx" in case:
        merkle.verify_inclusion(
            leaf_hash=base64.b64decode(case["leafHash"]), index=case["leafIdx"],
            size=case["treeSize"], proof=proof, root=base64.b64decode(case["root"]),
        )  # fmt: skip
    else:
        merkle.verify_consistency(
            old_size=case["size1"], new_size=case["size2"],
            old_root=base64.b64decode(case["root1"]), new_root=base64.b64decode(case["root2"]),
            proof=proof,
        )  # fmt: skip


def test_all_vector_files_are_found():
    assert len(VECTOR_FILES) == 196


@pytest.mark.parametrize(
    "path", VECTOR_FILES, ids=[str(p.relative_to(VECTORS)) for p in VECTOR_FILES]
)
def test_the_verifier_agrees_with_vector(path):
    case = json.loads(path.read_text())
    if case["wantErr"]:
        with pytest.raises(ProofError):
            _verify_vector(case)
    else:
        _verify_vector(case)


@pytest.fixture(scope="module")
def tree():
    """The operator's tree of MAX leaves, with the leaf hashes and the roots of every size."""
    store = operator_merkle.DictStore()
    leaves = [merkle.leaf_hash(b"receipt %d" % n) for n in range(MAX)]
    for size in range(MAX):
        store.put_many(operator_merkle.append(store, size=size, data=b"receipt %d" % size))
    roots = [operator_merkle.root(store, size=size) for size in range(MAX + 1)]
    return store, leaves, roots


RANGES = [(s, e, n) for n in range(1, MAX + 1) for s in range(n) for e in range(s + 1, n + 1)]


def test_every_range_proof_of_the_operator_leads_to_the_root(tree):
    store, leaves, roots = tree
    for start, end, size in RANGES:
        proof = operator_merkle.range_proof(store, start=start, end=end, size=size)
        root = merkle.range_root(start=start, size=size, leaves=leaves[start:end], proof=proof)
        assert root == roots[size], (start, end, size)


def test_a_changed_leaf_in_a_range_leads_elsewhere(tree):
    store, leaves, roots = tree
    for start, end, size in RANGES:
        proof = operator_merkle.range_proof(store, start=start, end=end, size=size)
        changed = [*leaves[start:end]]
        changed[-1] = merkle.leaf_hash(b"not logged")
        assert merkle.range_root(start=start, size=size, leaves=changed, proof=proof) != roots[size]


def test_a_range_proof_with_a_node_more_or_less_is_refused(tree):
    store, leaves, _roots = tree
    proof = operator_merkle.range_proof(store, start=3, end=9, size=MAX)

    for wrong in (proof[:-1], [*proof, proof[0]]):
        with pytest.raises(ProofError, match="proof nodes"):
            merkle.range_root(start=3, size=MAX, leaves=leaves[3:9], proof=wrong)


def test_a_range_past_the_tree_is_refused(tree):
    _store, leaves, _roots = tree

    with pytest.raises(ProofError, match="not in a tree of 4 leaves"):
        merkle.range_root(start=2, size=4, leaves=leaves[:3], proof=[])
