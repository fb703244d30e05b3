/*
 * gen-errors-doc — writes docs/ERRORS.md from the library's error table
 * (kp_err_name, kp_err_str, kp_err_is_retriable), so the documentation
 * cannot drift from the code.
 *   gen-errors-doc            print the document
 *   gen-errors-doc --check F  exit 1 if F differs from what would be printed
 *   gen-errors-doc --codes [--check F]
 *                             the same for src/base/kafka_codes.h: every Kafka code
 *                             of the table by name, for the engine's conditions
 */
#include <stdio.h>

#include "doc_main.h"
#include <stdlib.h>
#include <string.h>

#include <kprod/kprod.h>

/* One table row; codes in neither of err.c's tables (the fallback names)
 * are skipped. code_text overrides the code column. */
static void row_as(FILE *f, int code, const char *code_text) {
    const char *name = kp_err_name((kp_err_t)code);
    if (!strcmp(name, "_UNKNOWN_LOCAL_ERROR") || !strcmp(name, "_UNKNOWN_KAFKA_ERROR"))
        return;
    if (code_text)
        fprintf(f, "| %s ", code_text);
    else
        fprintf(f, "| %d ", code);
    static const char *const cls[] = {"", "retriable", "abortable", "fatal"};
    fprintf(f, "| `%s` | %s | %s | %s |\n", name,
            kp_err_is_retriable((kp_err_t)code) ? "yes" : "no", cls[kp_err_class((kp_err_t)code)],
            kp_err_str((kp_err_t)code));
}

static void row(FILE *f, int code) { row_as(f, code, NULL); }

static char *render(size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fprintf(f,
            "# kprod errors\n\n"
            "Generated from `src/base/err.c` by `tools/gen-errors-doc.c` (`make docs`); the test suite\n"
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
            "The \"txn class\" column is `kp_err_class()`: what a transactional producer's\n"
            "application does about the error (KIP-1050). *retriable*: retried inside the\n"
            "producer (a call that timed out may be called again and resumes); *abortable*:\n"
            "abort the transaction and carry on (a transactional call then returns\n"
            "`_TXN_ABORTABLE` and `kp_txn_error()` gives the cause); *fatal*: the producer\n"
            "cannot continue, every later call returns the error, close it. Empty: not a\n"
            "transactional outcome. README \"Transactions\" has the pattern for each.\n\n"
            "## kprod's own errors\n\n| code | name | retriable | txn class | meaning |\n"
            "|---|---|---|---|---|\n");
    /* KP_ERR_UNKNOWN_SERVER_ERROR is Kafka's error under a local code: it is
     * listed with Kafka's. */
    for (int code = 0; code >= -100; code--)
        if (code != KP_ERR_UNKNOWN_SERVER_ERROR)
            row(f, code);
    fprintf(f, "\n## Kafka errors a producer can see\n\n"
               "Kafka's `UNKNOWN_SERVER_ERROR` is -1 on the wire, which is kprod's own\n"
               "`_UNKNOWN`; kprod reports it as %d (`KP_ERR_UNKNOWN_SERVER_ERROR`), so no\n"
               "broker's code can pass for a local error. A code this table does not list is\n"
               "passed through as it is, named `_UNKNOWN_KAFKA_ERROR`.\n\n"
               "| code | name | retriable | txn class | meaning |\n|---|---|---|---|---|\n",
            (int)KP_ERR_UNKNOWN_SERVER_ERROR);
    char wire[64];
    snprintf(wire, sizeof(wire), "%d (-1 on the wire)", (int)KP_ERR_UNKNOWN_SERVER_ERROR);
    row_as(f, KP_ERR_UNKNOWN_SERVER_ERROR, wire);
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

/* src/base/kafka_codes.h: KAFKA_<NAME> for every Kafka code err.c names. */
static char *render_codes(size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fprintf(f, "/*\n"
               " * kafka_codes — Kafka's error codes by name, for the conditions in the\n"
               " * engine (style: never a bare number in a condition). Generated from\n"
               " * src/base/err.c's table by tools/gen-errors-doc.c (`make docs`); the test\n"
               " * suite fails when this file is out of date. The names are those of\n"
               " * org.apache.kafka.common.protocol.Errors, the values Kafka's; each is a\n"
               " * kp_err_t, as a Kafka code is an error as it stands (kprod.h). Kafka's\n"
               " * UNKNOWN_SERVER_ERROR (-1 on the wire) is KP_ERR_UNKNOWN_SERVER_ERROR.\n"
               " */\n"
               "#ifndef KP_KAFKA_CODES_H\n#define KP_KAFKA_CODES_H\n\n"
               "#include \"kprod/kprod.h\"\n\n");
    for (int code = 1; code <= 200; code++) {
        const char *name = kp_err_name((kp_err_t)code);
        if (strcmp(name, "_UNKNOWN_KAFKA_ERROR"))
            fprintf(f, "#define KAFKA_%s ((kp_err_t)%d)\n", name, code);
    }
    fprintf(f, "\n#endif\n");
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--codes"))
        return doc_main(argc - 1, argv + 1, render_codes);
    return doc_main(argc, argv, render);
}
