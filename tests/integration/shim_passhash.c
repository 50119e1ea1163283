/* shim_passhash: prints a bcrypt hash for an httpbasicauth users file, like `commctl passhash`
 * (spec §12.3). Used by the integration tests to make users with a cheap cost.
 *
 *   shim_passhash PASSWORD [COST]      (COST 4..31, default 12) */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data cd;
    unsigned long cost = argc > 2 ? strtoul(argv[2], NULL, 10) : 12;
    const char *h;

    if (argc < 2) {
        fprintf(stderr, "usage: shim_passhash PASSWORD [COST]\n");
        return 2;
    }
    if (!crypt_gensalt_rn("$2b$", cost, NULL, 0, salt, sizeof salt)) {
        perror("crypt_gensalt_rn");
        return 1;
    }
    memset(&cd, 0, sizeof cd);
    h = crypt_rn(argv[1], salt, &cd, sizeof cd);
    if (!h || h[0] == '*') {
        fprintf(stderr, "crypt failed\n");
        return 1;
    }
    puts(h);
    return 0;
}
