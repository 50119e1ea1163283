/* The replay main of every fuzz target when built without libFuzzer (FUZZ=OFF): each argument
 * (a file, or a directory of files) is fed to LLVMFuzzerTestOneInput once, so that ctest runs
 * the seed corpora under ASan/UBSan in the normal test build. Linked in by cm_add_fuzz_target()
 * (tests/CMakeLists.txt). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define INPUT_MAX (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    size_t n = 0, r;
    uint8_t *buf;

    if (!f)
        return -1;
    buf = malloc(INPUT_MAX + 1);
    while (buf && n <= INPUT_MAX && (r = fread(buf + n, 1, INPUT_MAX + 1 - n, f)) > 0)
        n += r;
    fclose(f);
    /* A corpus file larger than any fuzzer input would be replayed cut short: refuse it. */
    if (!buf || n > INPUT_MAX) {
        free(buf);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    int files = 0;

    for (int i = 1; i < argc; i++) {
        DIR *dir = opendir(argv[i]);
        struct dirent *de;

        if (!dir) {
            if (replay_file(argv[i]) < 0) {
                fprintf(stderr, "cannot read %s (or larger than 4 MiB)\n", argv[i]);
                return 1;
            }
            files++;
            continue;
        }
        while ((de = readdir(dir))) {
            char p[4096];

            if (de->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", argv[i], de->d_name);
            if (replay_file(p) < 0) {
                fprintf(stderr, "cannot read %s (or larger than 4 MiB)\n", p);
                closedir(dir);
                return 1;
            }
            files++;
        }
        closedir(dir);
    }
    printf("replayed %d inputs\n", files);
    return files > 0 ? 0 : 1;
}
