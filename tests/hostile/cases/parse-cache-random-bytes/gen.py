"""Setup: the topology's parse-cache entry made 'random-bytes' (see tests/hostile/lib)."""

from parse_cache_setup import make

make("random-bytes")
