/* run_many.c: many runs in one process through the one run call
 * (otd_run.h), for the re-entrancy test (tests/integration/test_run_call.py).
 *
 *   mpirun -n P otd_run_many --groups G  @GROUP DIR [KEY=VALUE]...  [@GROUP DIR ...]
 *
 * The P ranks are split (otd_comm_split) into G groups of consecutive ranks
 * (P/G each). A point `@g DIR KEY=VALUE...` runs on group g; `@all` on every
 * rank. Each group runs its points in order while the other groups run
 * theirs at the same time; an @all point waits for every group. Prints
 * "point DIR: STATUS" per point (rank 0 of its group); exits 0 only if every
 * run returned OTD_OK. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_run.h"
#include "otd/otd_signal.h"

typedef struct {
    int group; /* -1: every rank */
    const char *dir;
    const char **sets;
    int nsets;
} point;

/* Parse argv into points; returns the count, -1 on a usage error. */
static int parse(int argc, char **argv, int *groups, point *pts)
{
    int n = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--groups") == 0 && k + 1 < argc) {
            *groups = atoi(argv[++k]);
        } else if (argv[k][0] == '@' && k + 1 < argc) {
            pts[n].group = strcmp(argv[k], "@all") == 0 ? -1 : atoi(argv[k] + 1);
            pts[n].dir = argv[++k];
            pts[n].sets = (const char **)argv + k + 1;
            pts[n].nsets = 0;
            while (k + 1 < argc && argv[k + 1][0] != '@') {
                pts[n].nsets++;
                k++;
            }
            n++;
        } else {
            return -1;
        }
    }
    return *groups >= 1 ? n : -1;
}

/* One point on comm: parse its configuration, run it, say how it ended. */
static int run_point(otd_comm *comm, const point *p)
{
    otd_config cfg;
    otd_run_summary sum;
    otd_err err;
    memset(&cfg, 0, sizeof cfg);
    err = otd_config_parse(NULL, 0, "<run_many>", p->sets, p->nsets, &cfg);
    if (err == OTD_OK)
        err = otd_run(&cfg, comm, p->dir, NULL, &sum);
    if (otd_comm_rank(comm) == 0) {
        if (err == OTD_OK)
            printf("point %s: %s\n", p->dir, otd_status_name(sum.status));
        else
            printf("point %s: error %s: %s\n", p->dir, otd_strerror(err), otd_error_message());
        fflush(stdout);
    }
    otd_config_free(&cfg);
    return err == OTD_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    otd_comm *world = NULL, *group = NULL;
    point *pts = calloc((size_t)argc, sizeof *pts);
    int groups = 1, npts, failed = 0, mine;
    if (pts == NULL || (npts = parse(argc, argv, &groups, pts)) < 0) {
        fprintf(stderr, "usage: otd_run_many --groups G @GROUP DIR [KEY=VALUE]... ...\n");
        return 2;
    }
    if (otd_signal_install() != OTD_OK || otd_comm_init(&argc, &argv) != OTD_OK ||
        otd_comm_create(&world) != OTD_OK) {
        fprintf(stderr, "otd_run_many: %s\n", otd_error_message());
        return 1;
    }
    mine = otd_comm_rank(world) * groups / otd_comm_size(world);
    if (otd_comm_split(world, mine, &group) != OTD_OK) {
        fprintf(stderr, "otd_run_many: %s\n", otd_error_message());
        return 1;
    }
    for (int k = 0; k < npts; k++) {
        if (pts[k].group < 0)
            failed |= run_point(world, &pts[k]);
        else if (pts[k].group == mine)
            failed |= run_point(group, &pts[k]);
    }
    otd_comm_destroy(group);
    otd_comm_destroy(world);
    otd_comm_finalize();
    free(pts);
    return failed;
}
