/*
 * gen-config-doc — writes docs/CONFIGURATION.md from the library's property
 * table, so the documentation cannot drift from the code.
 *   gen-config-doc            print the document
 *   gen-config-doc --check F  exit 1 if F differs from what would be printed
 *   gen-config-doc --fields   one line per property for the check that
 *                             implemented properties are read:
 *                             name TAB status TAB field TAB via
 *                             (status implemented|unused|missing; "-" for none)
 * Built against the static library (it reads an internal table); not
 * installed.
 */
#include <stdio.h>

#include "doc_main.h"
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"

static const char *deflt(const kp_prop_info_t *pi) {
    return pi->deflt ? (*pi->deflt ? pi->deflt : "\"\"") : "null";
}

/* --fields: the table's status and fields, for
 * tests/tools/check_config_used.py. */
static int print_fields(void) {
    kp_prop_info_t pi;
    for (size_t i = 0; !kp_config_prop(i, &pi); i++)
        printf("%s\t%s\t%s\t%s\n", pi.name,
               pi.missing ? "missing" : pi.unused ? "unused" : "implemented",
               pi.field ? pi.field : "-", pi.via ? pi.via : "-");
    return 0;
}

static char *render(size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fprintf(f, "# kprod configuration\n\n"
               "Generated from the property table in `src/conf/config.c` by `tools/gen-config-doc.c`\n"
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
        if (pi.missing || pi.unused)
            continue;
        fprintf(f, "| `%s` | %s | %s | %s | %s |\n", pi.name, pi.type, deflt(&pi), pi.valid,
                pi.doc);
    }
    fprintf(f, "\n## Accepted, not yet used\n\n"
               "These are validated like the implemented ones (an invalid value fails), but\n"
               "nothing in kprod reads them yet: any valid value behaves as the last column\n"
               "says.\n\n"
               "| property | type | default | allowed | description | not used because |\n"
               "|---|---|---|---|---|---|\n");
    for (size_t i = 0; !kp_config_prop(i, &pi); i++) {
        if (!pi.unused)
            continue;
        fprintf(f, "| `%s` | %s | %s | %s | %s | %s |\n", pi.name, pi.type, deflt(&pi),
                pi.valid, pi.doc, pi.unused);
    }
    fprintf(f, "\n## Accepted at their default only\n\n"
               "These Java keys belong to features kprod does not have yet. They are accepted with\n"
               "their default value, so existing property files load; any other value fails\n"
               "creation with a message naming the missing feature.\n\n"
               "| property | default | needs |\n|---|---|---|\n");
    for (size_t i = 0; !kp_config_prop(i, &pi); i++) {
        if (!pi.missing)
            continue;
        fprintf(f, "| `%s` | %s | %s |\n", pi.name, deflt(&pi), pi.missing);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--fields"))
        return print_fields();
    return doc_main(argc, argv, render);
}
