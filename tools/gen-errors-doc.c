/*
 * gen-errors-doc — writes docs/ERRORS.md from the library's error table
 * (kp_err_name, kp_err_str, kp_err_is_retriable), so the documentation
 * cannot drift from the code.
 *   gen-errors-doc            print the document
 *   gen-errors-doc --check F  exit 1 if F differs from what would be printed
 */
#include <stdio.h>

#include "doc_main.h"
#include <stdlib.h>
#include <string.h>

#include <kprod/kprod.h>

static void row(FILE *f, int code) {
    const char *name = kp_err_name((kp_err_t)code);
    if (!strcmp(name, "_UNKNOWN_LOCAL_ERROR") || !strcmp(name, "UNKNOWN_SERVER_ERROR"))
        return;
    fprintf(f, "| %d | `%s` | %s | %s |\n", code, name,
            kp_err_is_retriable((kp_err_t)code) ? "yes" : "no", kp_err_str((kp_err_t)code));
}

static char *render(size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fprintf(f,
            "# kprod errors\n\n"
            "Generated from `src/err.c` by `tools/gen-errors-doc.c` (`make docs`); the test suite\n"
            "fails when this file is out of date.\n\n"
            "Every kprod call and completion reports one `kp_err_t`: 0 is success, negative\n"
            "values are kprod's own, positive values are Kafka error codes passed through with\n"
            "the Java client's names. `kp_err_name()` and `kp_err_str()` give the two text\n"
            "columns; `kp_err_is_retriable()` the third, following the Java exception hierarchy\n"
            "(`RetriableException`, `InvalidMetadataException`). Retriable errors are retried\n"
            "inside the producer until `delivery.timeout.ms`; the application never retries by\n"
            "hand.\n\n"
            "A failed record's `kp_record_metadata_t.persisted` says whether it may have been\n"
            "written anyway: `KP_NOT_PERSISTED` (safe to resend), `KP_POSSIBLY_PERSISTED` (sent\n"
            "without an answer: resending may duplicate) or `KP_PERSISTED`.\n\n"
            "## kprod's own errors\n\n| code | name | retriable | meaning |\n|---|---|---|---|\n");
    for (int code = 0; code >= -100; code--)
        row(f, code);
    fprintf(f, "\n## Kafka errors a producer can see\n\n"
               "| code | name | retriable | meaning |\n|---|---|---|---|\n");
    for (int code = 1; code <= 200; code++)
        row(f, code);
    fprintf(f, "\nSpecial handling: `DUPLICATE_SEQUENCE_NUMBER` (46) completes the record as\n"
               "success (the broker has it already); `OUT_OF_ORDER_SEQUENCE_NUMBER` (45),\n"
               "`UNKNOWN_PRODUCER_ID` (59) and `INVALID_PRODUCER_EPOCH` (47) make the idempotent\n"
               "producer take a new producer id and resend; `MESSAGE_TOO_LARGE` (10) for a batch\n"
               "of several records splits it; metadata errors (3, 5, 6, 74, 75, ...) refresh the\n"
               "metadata before the retry.\n");
    fclose(f);
    return buf;
}

int main(int argc, char **argv) { return doc_main(argc, argv, render); }
