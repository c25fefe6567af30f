"""Receipt log proofs: mean time per proof, beside a one-row lookup, as the log grows.

Run with `make bench` (every benchmark) or `python bench/merkle.py` (this one only).
"""

import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (10**4, 10**5, 10**6)
SAMPLES = 300
CHUNK = 50_000  # leaves whose nodes are inserted at once: bounds the memory a build takes


class FrontierStore:
    """A NodeStore for building a log fast: holds only the last node of each level.

    Appending reads nothing else (the left sibling at each level is that level's last
    node), and those nodes are also the ones a root needs. Every node put is queued
    for a bulk insert, so a million leaves cost no million round trips.
    """

    def __init__(self) -> None:
        self.last: dict[int, tuple[int, bytes]] = {}
        self.queued: dict[tuple[int, int], bytes] = {}

    def get_many(self, positions):
        return {
            (level, index): self.last[level][1]
            for level, index in positions
            if self.last.get(level, (None,))[0] == index
        }

    def put_many(self, nodes):
        for (level, index), digest in nodes.items():
            self.last[level] = (index, digest)
        self.queued.update(nodes)


def grow_log(frontier: FrontierStore, *, size: int, to: int) -> None:
    """Append leaves size..to-1 in memory and bulk-insert their nodes, in one transaction."""
    from django.db import transaction

    from ledger import merkle
    from ledger.log import DbNodeStore
    from ledger.models import LogHead

    with transaction.atomic():
        for start in range(size, to, CHUNK):
            for index in range(start, min(start + CHUNK, to)):
                frontier.put_many(merkle.append(frontier, size=index, data=b"receipt %d" % index))
            DbNodeStore().put_many(frontier.queued)
            frontier.queued.clear()
        LogHead.objects.update_or_create(id=1, defaults={"tree_size": to})


def mean_seconds(call, arguments: list[dict], *, repeat: int = 3) -> float:
    """Mean seconds per call over `arguments`: the best of `repeat` runs, as timeit does,
    so that other work on the machine and a cold page cache count the least."""
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        for kwargs in arguments:
            call(**kwargs)
        best = min(best, time.perf_counter() - started)
    return best / len(arguments)


class CountingStore:
    """Wraps a NodeStore and counts the positions read through it."""

    def __init__(self, store) -> None:
        self.store, self.read = store, 0

    def get_many(self, positions):
        positions = set(positions)
        self.read += len(positions)
        return self.store.get_many(positions)


def random_proofs(rng: random.Random, size: int) -> tuple[list[dict], list[dict]]:
    """SAMPLES inclusion and SAMPLES consistency proof arguments for a log of `size`."""
    inclusions, consistencies = [], []
    for _ in range(SAMPLES):
        tree = rng.randint(1, size)
        inclusions.append({"index": rng.randrange(tree), "size": tree})
        old = rng.randint(1, tree)
        consistencies.append({"old_size": old, "new_size": tree})
    return inclusions, consistencies


def mean_nodes_read(prove, arguments: list[dict]) -> float:
    from ledger.log import DbNodeStore

    counter = CountingStore(DbNodeStore())
    for kwargs in arguments:
        prove(counter, **kwargs)
    return counter.read / len(arguments)


def bench_log_proofs() -> None:
    from ledger import merkle
    from ledger.log import log_consistency_proof, log_inclusion_proof, log_root
    from ledger.models import LogHead, LogNode

    # The log is built here from empty, in memory first: the receipts that earlier
    # benchmarks issued into this throwaway database would collide with its nodes.
    LogNode.objects.all().delete()
    LogHead.objects.all().delete()

    def lookup(index: int) -> None:
        LogNode.objects.filter(level=0, index=index).values_list("hash").get()

    rng = random.Random(6962)
    frontier, size = FrontierStore(), 0
    print(
        f"receipt log on SQLite: mean of {SAMPLES} random proofs (sizes and indexes) each, "
        "best of 3 runs\n"
        f"{'leaves':>9} {'log2 n':>6} {'build s':>8} {'inclusion µs':>13} {'nodes':>6} "
        f"{'consistency µs':>15} {'nodes':>6} {'floor µs':>9} {'incl/floor':>11}"
    )
    for target in SIZES:
        started = time.perf_counter()
        grow_log(frontier, size=size, to=target)
        size, build = target, time.perf_counter() - started
        # The log in the database must be the tree that was built in memory.
        assert log_root() == merkle.root(frontier, size=size)

        inclusions, consistencies = random_proofs(rng, size)
        inclusion = mean_seconds(log_inclusion_proof, inclusions)
        consistency = mean_seconds(log_consistency_proof, consistencies)
        floor = mean_seconds(lookup, [{"index": rng.randrange(size)} for _ in range(SAMPLES)])
        print(
            f"{size:>9} {math.log2(size):>6.1f} {build:>8.1f} {inclusion * 1e6:>13.0f} "
            f"{mean_nodes_read(merkle.inclusion_proof, inclusions):>6.1f} "
            f"{consistency * 1e6:>15.0f} "
            f"{mean_nodes_read(merkle.consistency_proof, consistencies):>6.1f} "
            f"{floor * 1e6:>9.0f} {inclusion / floor:>11.1f}"
        )
    print(
        "nodes: stored nodes read per proof, in one query (a proof also reads the head);\n"
        "floor: one LogNode fetched by its (level, index) unique index"
    )


def main() -> None:
    from bench.run import django_in_temporary_directory

    with django_in_temporary_directory():
        bench_log_proofs()


if __name__ == "__main__":
    main()
