/* Replay main shared by the kube-lite lib fuzz targets: without libFuzzer (FUZZ=OFF), each
 * argument (a file or a directory of files) is fed to LLVMFuzzerTestOneInput once, so ctest
 * runs the seed corpus under ASan/UBSan. */
#ifndef FUZZ_KL_REPLAY_H
#define FUZZ_KL_REPLAY_H

#ifndef CM_LIBFUZZER
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int kl_replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 20, n = 0, r;
    uint8_t *buf;

    if (!f)
        return -1;
    buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0)
        n += r;
    fclose(f);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *dir = opendir(argv[i]);
        struct dirent *de;
        if (!dir) {
            if (kl_replay_file(argv[i]) < 0) {
                fprintf(stderr, "cannot read %s\n", argv[i]);
                return 1;
            }
            files++;
            continue;
        }
        while ((de = readdir(dir))) {
            char p[4096];
            if (de->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
            if (kl_replay_file(p) < 0) {
                fprintf(stderr, "cannot read %s\n", p);
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
#endif

#endif
