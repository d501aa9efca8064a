"""A policy whose file NAME holds an escape, a bidi override and a byte that is not UTF-8."""

import os

os.makedirs("policies", exist_ok=True)
name = b"policies/p\x1b[2J\xe2\x80\xae\xff.yaml"
with open(name, "wb") as f:
    f.write(
        b"ztsim: 1\nkind: policy\nname: open\nsegmentation:\n  default: deny\n  rules:\n"
        b"    - {id: in, action: allow, from: {zone: internet}, to: {host: web}, bad: 1}\n"
    )
