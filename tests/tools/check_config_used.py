#!/usr/bin/env python3
"""check_config_used — every property documented as implemented is read.

    check_config_used.py GEN_CONFIG_DOC SOURCE_DIR

Issue 10, defect 7: properties were listed as implemented in
docs/CONFIGURATION.md that nothing read. For each property of the
"Implemented" section of SOURCE_DIR/docs/CONFIGURATION.md this finds its
kp_conf_t field in the property table (`GEN_CONFIG_DOC --fields`, which prints
the table of src/conf/config.c) and fails unless some src/*/*.c other than config.c
reads it.

A read is `conf.<field>` or `conf-><field>` outside comments and string
literals, not on the left of an assignment: the parsed configuration lives in
`struct kp_producer`'s member `conf` and the library reads it as
`p->conf.<field>` (config.c alone writes it). A row may name a `via` field
that config.c derives from the property and the library reads instead (e.g.
partitioner.class -> partitioner_kind); either counts.

A property accepted but not used yet belongs in the table as UNUSED (the
document's "Accepted, not yet used" section), not in "Implemented". There is
no allow-list: the fix for a failure is to implement the property or to mark
it so.
"""
import glob
import os
import re
import subprocess
import sys


def implemented_in_doc(doc_path):
    """Property names of the document's "## Implemented" table."""
    names, inside = [], False
    with open(doc_path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                inside = line.strip() == "## Implemented"
                continue
            m = re.match(r"\|\s*`([^`]+)`\s*\|", line)
            if inside and m:
                names.append(m.group(1))
    return names


def table_rows(gen):
    """name -> (status, [fields]) from gen-config-doc --fields."""
    out = subprocess.run([gen, "--fields"], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        name, status, field, via = line.split("\t")
        rows[name] = (status, [x for x in (field, via) if x != "-"])
    return rows


# Comments, then string and character literals (kept apart so that a quote
# inside a comment or a comment marker inside a string does not confuse).
TOKENS = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def code_only(text):
    return TOKENS.sub(lambda m: " " if m.group(0)[0] == "/" else '""', text)


def reads(field, sources):
    """Files in which conf.<field> / conf-><field> is read (not assigned)."""
    pat = re.compile(r"\bconf\s*(?:\.|->)\s*" + re.escape(field) +
                     r"\b(?!\s*(?:[-+*/%&|^]|<<|>>)?=(?!=))")
    return [path for path, text in sources.items() if pat.search(text)]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    gen, root = sys.argv[1], sys.argv[2]
    doc = os.path.join(root, "docs", "CONFIGURATION.md")
    names = implemented_in_doc(doc)
    rows = table_rows(gen)
    sources = {}
    for path in sorted(glob.glob(os.path.join(root, "src", "*", "*.c"))):
        if os.path.basename(path) != "config.c":
            with open(path, encoding="utf-8", errors="replace") as f:
                sources[os.path.relpath(path, root)] = code_only(f.read())
    if not names or not sources or not any(s == "implemented" for s, _ in rows.values()):
        sys.exit("check_config_used: found no implemented property or no source: "
                 "has the layout of %s or src/ changed?" % doc)

    failures = []
    for name in names:
        status, fields = rows.get(name, (None, []))
        if status is None:
            failures.append("'%s' is documented as implemented but is not in the table of "
                            "src/conf/config.c" % name)
        elif status != "implemented":
            failures.append("'%s' is documented as implemented but its row says %s: "
                            "regenerate docs/CONFIGURATION.md" % (name, status))
        elif not fields:
            failures.append("'%s' is documented as implemented but its row stores it in no "
                            "kp_conf_t field, so nothing can read it" % name)
        elif not any(reads(f, sources) for f in fields):
            failures.append("'%s' is documented as implemented but no src/*/*.c other than "
                            "config.c reads %s" % (name, " or ".join("conf." + f for f in fields)))
        else:
            where = sorted({p for f in fields for p in reads(f, sources)})
            print("ok   %-42s %s" % (name, ", ".join(where)))
    for msg in failures:
        print("FAIL " + msg)
    if failures:
        print("\n%d of %d implemented properties are read nowhere. Implement each, or mark its "
              "row in src/conf/config.c as UNUSED (documented under \"Accepted, not yet used\") and "
              "regenerate the document (gen-config-doc > docs/CONFIGURATION.md)."
              % (len(failures), len(names)))
        return 1
    print("%d implemented properties, each read outside config.c" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
