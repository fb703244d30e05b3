/*
 * gen-metrics-doc — writes docs/METRICS.md from the metrics' definitions
 * table (src/engine/metrics.c), so the documentation cannot drift from
 * the code.
 *   gen-metrics-doc            print the document
 *   gen-metrics-doc --check F  exit 1 if F differs from what would be printed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_main.h"
#include "engine/metrics.h"

static char *render(size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fprintf(f,
            "# kprod metrics\n\n"
            "Generated from `src/engine/metrics.c` by `tools/gen-metrics-doc.c` (`make docs`); the\n"
            "test suite fails when this file is out of date.\n\n"
            "`kp_metrics_snapshot()` lists every metric below, `kp_metric_value()` reads one\n"
            "(README, \"Metrics\"). Names, groups, tags and units are the Java producer's: rates\n"
            "per second, times in ms unless the name says ns; `-rate`, `-avg`, `-max` and the\n"
            "percentiles cover the last `metrics.num.samples` windows of\n"
            "`metrics.sample.window.ms` (the current one included), `-total` everything since the\n"
            "producer started. An average or maximum with nothing measured is NaN, as Java's.\n"
            "Metrics marked \"Not in Java\" are kprod's own; the percentiles come from\n"
            "log-bucketed histograms (8 buckets per power of two: within 12.5 %%).\n"
            "Per-broker percentiles are recorded at `metrics.recording.level` DEBUG or TRACE.\n\n");
    const char *last = "";
    for (size_t i = 0, n = kp_metric_defs(); i < n; i++) {
        const char *group, *name, *tags, *desc;
        kp_metric_def(i, &group, &name, &tags, &desc);
        if (strcmp(group, last)) {
            fprintf(f, "%s## %s\n\nTags: %s.\n\n| name | description |\n|---|---|\n",
                    *last ? "\n" : "", group, tags);
            last = group;
        }
        fprintf(f, "| `%s` | %s |\n", name, desc);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) { return doc_main(argc, argv, render); }
