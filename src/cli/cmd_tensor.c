/* cmd_tensor.c: `otd tensor`: write the generated target tensor (with
 * problem.noise) to an HDF5 file that problem.tensor_file reads back.
 *
 * The tensor is built and written slice by slice on every rank exactly as
 * the dense engine builds it (otd_slab_generate, otd_slab_write), so the file
 * does not depend on the rank count and never exists whole in one memory.
 * The components /U and /a and the resolved configuration go into the same
 * file: it describes itself, and `otd info` shows where it came from. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_fileio.h"
#include "otd/otd_target.h"
#include "otd/otd_tensor.h"

#ifndef OTD_VERSION_STRING
#define OTD_VERSION_STRING "unknown"
#endif

/* The tensor is explicit whatever the configuration's engine says, and the
 * configuration checks problem.noise against the engine: resolve it as the
 * dense engine will read it (this override comes after the user's). */
#define DENSE_OVERRIDE "engine=dense"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mpirun -n P otd tensor [CONFIG.yaml] [--set KEY=VALUE]... --out FILE.h5\n"
            "\n"
            "Write the target tensor T* = sum_k a_k u_k^{(x)l} of the configuration, plus a\n"
            "symmetric Gaussian noise tensor of Frobenius norm problem.noise, as dataset /T of\n"
            "shape (d, ..., d), float64, to the new HDF5 file FILE.h5, for problem.tensor_file.\n"
            "The same keys as `otd run` (see otd run --help); the configuration is resolved\n"
            "with engine = dense. The tensor does not depend on the number of ranks P; each\n"
            "rank builds and writes only its own mode-1 slices.\n"
            "\n"
            "  --set KEY=VALUE   override one key (VALUE in YAML: 0.01, [1, 0.5])\n"
            "  --out FILE.h5     the output file (required; must not exist)\n"
            "  -h, --help        this help\n"
            "\n"
            "Also written: /U (d, r) and /a (r,), the components of T* (the format of\n"
            "problem.components_file), and root attributes config, config_hash, otd_version.\n"
            "Exit status: 0 written, 1 runtime failure (also: FILE.h5 exists), 2 bad usage\n"
            "or configuration.\n");
}

/* Rank 0: "otd tensor: wrote t.h5: /T (7, 7, 7) float64, 2744 bytes (2.7 KiB),
 * ||T||_F = 1 (...)". */
static void print_summary(const otd_config *cfg, const char *path, const otd_slab *slab)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double bytes = 8.0, scaled = 0.0;
    int u = 0;
    printf("otd tensor: wrote %s: /T (", path);
    for (int q = 0; q < cfg->problem.order; q++) {
        printf("%s%lld", q > 0 ? ", " : "", (long long)cfg->problem.dim);
        bytes *= (double)cfg->problem.dim;
    }
    for (scaled = bytes; scaled >= 1024.0 && u < 5; u++)
        scaled /= 1024.0;
    printf(") float64, %.0f bytes (%.3g %s), ||T||_F = %.12g (T* of rank %lld", bytes, scaled,
           units[u], sqrt(slab->norm2), (long long)cfg->problem.rank);
    if (cfg->problem.noise > 0)
        printf(" + noise of norm %.6g", cfg->problem.noise);
    printf(")\n");
}

int otd_cmd_tensor(int argc, char **argv)
{
    otd_err err = OTD_OK;
    otd_comm *comm = NULL;
    otd_config cfg;
    otd_cli_args args = {0}, dense;
    const char **sets = NULL;
    otd_layout lay;
    otd_target *target = NULL;
    otd_slab *slab = NULL;
    char *yaml = NULL, hash[17];
    int rank = 0, status;
    memset(&cfg, 0, sizeof cfg);

    if ((err = otd_comm_create(&comm)) != OTD_OK)
        return otd_cli_finish(NULL, "tensor", err);
    rank = otd_comm_rank(comm);
    /* argv is the same on every rank, so is this verdict. */
    OTD_CHECK(otd_cli_parse_args(argc, argv, "tensor", &args));
    if (args.help) {
        if (rank == 0)
            usage(stdout);
        goto done;
    }
    if (args.out == NULL || args.out[0] == '\0')
        OTD_FAIL(OTD_ERR_ARG, "--out FILE.h5 is required (see otd tensor --help)");
    OTD_ALLOC(sets, args.nsets + 1);
    for (int q = 0; q < args.nsets; q++)
        sets[q] = args.sets[q];
    sets[args.nsets] = DENSE_OVERRIDE;
    dense = args;
    dense.sets = sets;
    dense.nsets = args.nsets + 1;
    OTD_CHECK(otd_cli_load_config(comm, &dense, &cfg));
    if (cfg.problem.tensor_file[0] != '\0')
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.tensor_file = '%s': otd tensor generates the tensor that this key "
                 "reads; leave it empty here",
                 cfg.problem.tensor_file);
    OTD_CHECK(otd_layout_init(&lay, cfg.problem.dim, rank, otd_comm_size(comm)));
    OTD_CHECK(
        otd_comm_agree(comm, rank == 0 ? otd_check_new_path(args.out, "output file") : OTD_OK));
    OTD_CHECK(otd_target_create(&cfg, comm, &target));
    OTD_CHECK(otd_slab_generate(&cfg, &lay, comm, target, &slab));
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)otd_config_hash(&cfg));
    OTD_CHECK(otd_comm_agree(comm, otd_config_to_yaml(&cfg, &yaml)));
    {
        const char *const names[] = {"config", "config_hash", "otd_version"};
        const char *const values[] = {yaml, hash, OTD_VERSION_STRING};
        OTD_CHECK(otd_slab_write(slab, args.out, comm, names, values, 3, target));
    }
    if (rank == 0)
        print_summary(&cfg, args.out, slab);
done:
    status = otd_cli_finish(comm, "tensor", err);
    free(yaml);
    free(sets);
    otd_slab_destroy(slab);
    otd_target_destroy(target);
    otd_cli_args_free(&args);
    otd_config_free(&cfg);
    otd_comm_destroy(comm);
    return status;
}
