#!/usr/bin/env python3
"""check_includes — the library's #include graph goes one way, down the layers.

The layers, from shared/DESIGN.md (a file may include its own layer's files and
those of the layers below; conf, proto and record are siblings that use only
base; the public header kprod/kprod.h may be included anywhere):

    api      producer.c                      the public functions
    engine   accumulator, sender, metadata,  the producer's machinery
             idempotence, produce, drain,
             engine.h, internal.h
    net      conn, resolve                   connections to brokers
    conf     config                          the property table    \
    proto    protocol                        request/response codecs > base only
    record   record_batch, compress          batches and codecs    /
    base     alloc, util, err, kafka_codes, crc32c, murmur2, buf

Known exceptions, each with why it is there, are listed below: the check fails
on any other upward or sideways include, and on an exception that no longer
exists (so the list only shrinks). Information flows up only through registered
tables (a request's kp_req_ops_t, ...), never by including the layer above.

Usage: check_includes.py SRC_DIR   (exit 0: clean; 1: violations, listed)
"""
import os
import re
import sys

LAYERS = {
    "base": ["alloc", "util", "err", "kafka_codes", "crc32c", "murmur2", "buf"],
    "conf": ["config"],
    "proto": ["protocol"],
    "record": ["record_batch", "compress"],
    "net": ["conn", "resolve"],
    "engine": ["accumulator", "sender", "metadata", "idempotence", "produce", "drain",
               "engine", "internal"],
    "api": ["producer"],
}
RANK = {"base": 0, "conf": 1, "proto": 1, "record": 1, "net": 2, "engine": 3, "api": 4}

# (including file, included header): why it is allowed for now
EXCEPTIONS = {
    ("config.c", "compress.h"):
        "the property table validates compression.type and the codec levels against "
        "the codec table (the codec names should move to base)",
    ("conn.h", "internal.h"):
        "a connection still takes the producer for its configuration, logging and "
        "backoff randomness, and carries kp_batch_t in produce requests (issue 11: "
        "module state)",
}


def layer_of(name):
    stem = os.path.splitext(name)[0]
    for layer, stems in LAYERS.items():
        if stem in stems:
            return layer
    return None


def main(src):
    problems, seen = [], set()
    for name in sorted(os.listdir(src)):
        if not name.endswith((".c", ".h")):
            continue
        me = layer_of(name)
        if me is None:
            problems.append(f"{name}: in no layer (add it to LAYERS in {sys.argv[0]})")
            continue
        with open(os.path.join(src, name), encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m or m.group(1).startswith("kprod/"):
                    continue
                inc = os.path.basename(m.group(1))
                other = layer_of(inc)
                if other is None:
                    problems.append(f"{name}:{lineno}: includes {inc}, which is in no layer")
                    continue
                upward = RANK[other] > RANK[me]
                sideways = RANK[other] == RANK[me] and other != me
                if not (upward or sideways):
                    continue
                if (name, inc) in EXCEPTIONS:
                    seen.add((name, inc))
                    continue
                kind = "up" if upward else "sideways"
                problems.append(f"{name}:{lineno}: {me} includes {inc} ({other}): {kind}")
    for (a, b), why in EXCEPTIONS.items():
        if (a, b) not in seen:
            problems.append(f"exception {a} -> {b} no longer needed: remove it ({why})")
    for p in problems:
        print(p)
    if not problems:
        print(f"include graph of {src}: one way down the layers "
              f"({len(EXCEPTIONS)} known exceptions)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src"))
