#include <stdio.h>
#include <stdlib.h>
#include "requests.h"

int main(int argc, char **argv) {
    if (argc < 7) return 2;
    int status = fm_requests(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (status != 200) { fprintf(stderr, "%s: the mTLS request gave %d\n", argv[1], status); return 1; }
    fm_print_rss(argv[1]);
    return 0;
}
