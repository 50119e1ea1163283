/* kube_informer_bench: informer cache read throughput (what the REST shim relies on).
 *
 * Usage: kube_informer_bench [objects=200] [threads=4] [seconds=2]
 * A scripted server (tests/unit/test_kube_mock.c) lists `objects` ConfigMaps and keeps the watch
 * open but quiet; reader threads then call kube_informer_get() on random keys, and one round of
 * kube_informer_list_by_label() per 100 gets, for the given time. Prints reads per second. */
#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cm_time.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_informer.h"
#include "../unit/test_kube_mock.h"

static int n_objects = 200;
static atomic_int stop;

static int handler(struct mock *m, int fd, const struct mock_req *req, void *ud) {
    (void)ud;
    if (strstr(req->path, "watch=true")) {
        mock_chunked_start(fd);
        while (!mock_stopping(m)) {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
            char c;
            if (recv(fd, &c, 1, MSG_DONTWAIT) == 0)
                return 1;
        }
        return 1;
    }
    json_t *items = json_array();
    for (int i = 0; i < n_objects; i++) {
        char name[32];
        snprintf(name, sizeof(name), "host-%d", i);
        json_array_append_new(items, json_pack("{s:s,s:{s:s,s:s,s:s,s:{s:s}},s:{s:s}}", "kind", "ConfigMap",
                                               "metadata", "name", name, "namespace", "ns1",
                                               "resourceVersion", "5", "labels", "cluster",
                                               i % 2 ? "a" : "b", "data", "address", "192.0.2.1"));
    }
    json_t *list = json_pack("{s:s,s:{s:s},s:o}", "kind", "ConfigMapList", "metadata",
                             "resourceVersion", "5", "items", items);
    char *s = json_dumps(list, JSON_COMPACT);
    mock_reply(fd, 200, NULL, s);
    free(s);
    json_decref(list);
    return 0;
}

struct reader {
    struct kube_informer *inf;
    unsigned seed;
    long gets, lists, misses;
};

static void *reader(void *arg) {
    struct reader *r = arg;
    char name[32];
    while (!atomic_load(&stop)) {
        for (int k = 0; k < 100; k++) {
            snprintf(name, sizeof(name), "host-%d", rand_r(&r->seed) % n_objects);
            json_t *o = kube_informer_get(r->inf, "ns1", name);
            if (!o)
                r->misses++;
            json_decref(o);
            r->gets++;
        }
        json_t *l = kube_informer_list_by_label(r->inf, "cluster", "a");
        json_decref(l);
        r->lists++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1)
        n_objects = atoi(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    int seconds = argc > 3 ? atoi(argv[3]) : 2;
    struct mock *m = mock_start(handler, NULL);
    char dir[] = "/tmp/kube_bench.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char kc[64];
    snprintf(kc, sizeof(kc), "%s/kc", dir);
    mock_write_kubeconfig(m, kc, "t", NULL);
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    if (kube_config_load_file(kc, NULL, &cfg, NULL) < 0 || kube_client_new(cfg, NULL, &c, NULL) < 0)
        return 1;
    kube_config_free(cfg);
    struct kube_informer *inf = NULL;
    kube_informer_new(c, &KUBE_RES_CONFIGMAPS, NULL, NULL, &inf);
    kube_informer_start(inf, NULL);
    if (kube_informer_wait_synced(inf, 10000) < 0) {
        fprintf(stderr, "not synced\n");
        return 1;
    }
    pthread_t th[64];
    struct reader rd[64];
    if (threads > 64)
        threads = 64;
    int64_t t0 = cm_time_mono_ms();
    for (int i = 0; i < threads; i++) {
        rd[i] = (struct reader){.inf = inf, .seed = (unsigned)i + 1};
        pthread_create(&th[i], NULL, reader, &rd[i]);
    }
    sleep((unsigned)seconds);
    atomic_store(&stop, 1);
    long gets = 0, lists = 0, misses = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        gets += rd[i].gets;
        lists += rd[i].lists;
        misses += rd[i].misses;
    }
    double secs = (double)(cm_time_mono_ms() - t0) / 1000.0;
    printf("objects=%d threads=%d gets/s=%.0f list_by_label(%d objs)/s=%.0f misses=%ld\n",
           n_objects, threads, (double)gets / secs, n_objects / 2, (double)lists / secs, misses);
    kube_informer_free(inf);
    kube_client_free(c);
    mock_stop(m);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return misses ? 1 : 0;
}
