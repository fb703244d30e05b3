#!/usr/bin/env python3
"""check_includes — the library's #include graph goes one way, down the layers.

The layers are the folders of src/. A file may include its own layer's files
and those of the layers below it; proto and record are siblings that use only
base; the public header kprod/kprod.h may be included anywhere:

    api/     producer.c                      the public functions
    engine/  accumulator, sender, metadata,  the producer's machinery
             idempotence, produce, drain,
             engine.h, internal.h
    net/     conn, resolve, tls, auth, sasl, connections to brokers
             net
    conf/    config, jaas                    the property table
    proto/   protocol                        request/response codecs \ base
    record/  record_batch, compress          batches and codecs      / only
    base/    alloc, util, err, kafka_codes, crc32c, murmur2, buf

Two departures from shared/DESIGN.md's table (which has conf and net on base
and proto only): conf sits above record, because the property table checks
compression.type and the codec levels against the codec table this build has,
and net reads its settings (timeouts, buffer sizes) from the parsed kp_conf_t.

Known exceptions, each with why it is there, are listed below: the check fails
on any other upward or sideways include, and on an exception that no longer
exists (so the list only shrinks). Information flows up only through registered
tables (a request's kp_req_ops_t, ...), never by including the layer above.

Includes name the layer: #include "net/conn.h".

Usage: check_includes.py SRC_DIR   (exit 0: clean; 1: violations, listed)
"""
import os
import re
import sys

# Each folder of src/ is a layer; the rank says which may include which.
RANK = {"base": 0, "proto": 1, "record": 1, "conf": 2, "net": 3, "engine": 4, "api": 5}

# (including file, included header): why it is allowed for now
EXCEPTIONS = {}


def main(src):
    problems, seen = [], set()
    for layer in sorted(os.listdir(src)):
        d = os.path.join(src, layer)
        if not os.path.isdir(d):
            if layer.endswith((".c", ".h")):
                problems.append(f"{layer}: in no layer (put it in one of {sorted(RANK)})")
            continue
        if layer not in RANK:
            problems.append(f"{layer}/: not a layer (add it to RANK in {sys.argv[0]})")
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            me, rel = layer, f"{layer}/{name}"
            with open(os.path.join(d, name), encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    if not m or m.group(1).startswith("kprod/"):
                        continue
                    inc = m.group(1)
                    other = inc.split("/")[0] if "/" in inc else None
                    if other not in RANK or not os.path.exists(os.path.join(src, inc)):
                        problems.append(f"{rel}:{lineno}: includes {inc}: not a layer/file path "
                                        f"under {src}")
                        continue
                    upward = RANK[other] > RANK[me]
                    sideways = RANK[other] == RANK[me] and other != me
                    if not (upward or sideways):
                        continue
                    if (rel, inc) in EXCEPTIONS:
                        seen.add((rel, inc))
                        continue
                    kind = "up" if upward else "sideways"
                    problems.append(f"{rel}:{lineno}: {me} includes {inc} ({other}): {kind}")
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
