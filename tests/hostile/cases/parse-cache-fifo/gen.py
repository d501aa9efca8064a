"""Setup: the topology's parse-cache entry made 'fifo' (see tests/hostile/lib)."""

from parse_cache_setup import make

make("fifo")
