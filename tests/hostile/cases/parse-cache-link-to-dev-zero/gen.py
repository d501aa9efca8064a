"""Setup: the topology's parse-cache entry made 'link-to-dev-zero' (see tests/hostile/lib)."""

from parse_cache_setup import make

make("link-to-dev-zero")
