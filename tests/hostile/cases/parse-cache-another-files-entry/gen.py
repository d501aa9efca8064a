"""Setup: the topology's parse-cache entry made 'another-files-entry' (see tests/hostile/lib)."""

from parse_cache_setup import make

make("another-files-entry")
