"""Setup: the topology's parse-cache entry made 'truncated' (see tests/hostile/lib)."""

from parse_cache_setup import make

make("truncated")
