/*
 * doc_main — the shared main() of the documentation generators:
 *   gen-X-doc            print the document
 *   gen-X-doc --check F  exit 1 (and say so) if F differs from it
 */
#ifndef KPROD_DOC_MAIN_H
#define KPROD_DOC_MAIN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int doc_main(int argc, char **argv, char *(*render)(size_t *len)) {
    size_t len;
    char *doc = render(&len);
    if (!doc)
        return 2;
    if (argc == 3 && !strcmp(argv[1], "--check")) {
        FILE *f = fopen(argv[2], "rb");
        char *cur = malloc(len + 2);
        size_t cl = f && cur ? fread(cur, 1, len + 1, f) : 0;
        int same = cl == len && !memcmp(cur, doc, len);
        if (f)
            fclose(f);
        if (!same)
            fprintf(stderr, "%s is out of date: run `make docs`\n", argv[2]);
        free(cur);
        free(doc);
        return same ? 0 : 1;
    }
    fwrite(doc, 1, len, stdout);
    free(doc);
    return 0;
}

#endif
