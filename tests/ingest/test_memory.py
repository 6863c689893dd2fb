"""The pipeline's memory release: glibc gives freed heap pages back when asked (a real process)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

FRAGMENTED_HEAP = """
import ctypes
from ingest.memory import release_freed_memory

def anon_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
blocks = [libc.malloc(2048) for _ in range(100_000)]  # 200 MB of the heap, below its top
for block in blocks:
    ctypes.memset(block, 1, 2048)
for block in blocks[:-1]:  # the last one keeps the heap's top: glibc keeps what is below
    libc.free(block)
kept = anon_mb()
asked = release_freed_memory()
print(asked, round(kept), round(anon_mb()))
"""


def test_heap_pages_freed_by_a_group_are_returned_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP], cwd=REPO, capture_output=True, text=True, check=True
    )
    asked, kept, after = done.stdout.split()
    assert asked == "True"
    assert int(kept) - int(after) > 150, done.stdout  # glibc kept ~200 MB until asked
