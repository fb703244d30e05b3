/*
 * gen-config-doc — writes docs/CONFIGURATION.md from the library's property
 * table, so the documentation cannot drift from the code.
 *   gen-config-doc            print the document
 *   gen-config-doc --check F  exit 1 if F differs from what would be printed
 * Built against the static library (it reads an internal table); not
 * installed.
 */
#include <stdio.h>

#include "doc_main.h"
#include <stdlib.h>
#include <string.h>

#include "config.h"

static char *render(size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fprintf(f, "# kprod configuration\n\n"
               "Generated from the property table in `src/config.c` by `tools/gen-config-doc.c`\n"
               "(`make docs`); the test suite fails when this file is out of date.\n\n"
               "Names and defaults are those of the Java client's `ProducerConfig` (Kafka 4.x).\n"
               "Set properties with `kp_config_set()` or load a Java `.properties` file with\n"
               "`kp_config_load_file()`. An unknown name or an invalid value fails with a message\n"
               "naming the property and what is allowed.\n\n"
               "## Implemented\n\n"
               "| property | type | default | allowed | description |\n"
               "|---|---|---|---|---|\n");
    kp_prop_info_t pi;
    for (size_t i = 0; !kp_config_prop(i, &pi); i++) {
        if (pi.missing)
            continue;
        fprintf(f, "| `%s` | %s | %s | %s | %s |\n", pi.name, pi.type,
                pi.deflt ? (*pi.deflt ? pi.deflt : "\"\"") : "null", pi.valid, pi.doc);
    }
    fprintf(f, "\n## Accepted at their default only\n\n"
               "These Java keys belong to features kprod does not have yet. They are accepted with\n"
               "their default value, so existing property files load; any other value fails\n"
               "creation with a message naming the missing feature.\n\n"
               "| property | default | needs |\n|---|---|---|\n");
    for (size_t i = 0; !kp_config_prop(i, &pi); i++) {
        if (!pi.missing)
            continue;
        fprintf(f, "| `%s` | %s | %s |\n", pi.name,
                pi.deflt ? (*pi.deflt ? pi.deflt : "\"\"") : "null", pi.missing);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) { return doc_main(argc, argv, render); }
