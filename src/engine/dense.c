/* dense.c: the dense engine, against an explicit tensor sharded by mode-1
 * slices (docs/science.md section 3, docs/performance.md).
 *
 * Rows I_p of T*(w_i^{(x)(l-1)}) for all m columns need only this rank's
 * slices: with the slab S packed over sorted multi-indices (otd_packed.h),
 *   Y = S K,   K[p, i] = prod_{q in J_p} w_i[q],
 * one GEMM (nrows x np) (np x m), accumulated panel by panel so K is never
 * whole: np x m would be the d^{l-1}/(l-1)! x m Khatri-Rao matrix. Each step:
 *   1. all-gather W (d x m words per rank; nothing of size d^{l-1} moves);
 *   2. Y = S K over panels (the flops: 2 nrows np m);
 *   3. local partials of W^T W (its upper triangle travels), q_i = <w_i, Y_i>
 *      and (when the target's components are known, for the metrics) W^T U,
 *      one allreduce;
 *   4. the model side from the Gram matrix (model.h), the target side from
 *      q and Y:  <T*, T(W)> = sum_i s_i q_i / t_i^l,  rho_i += q_i / t_i^l,
 *      grad = W B - Y diag(l h_i / t_i^{l-1}).
 * The loss uses ||T*||^2 of the slab, computed once. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "engine/kernel.h"
#include "engine/model.h"
#include "otd/otd_packed.h"
#include "otd/otd_tensor.h"

typedef struct {
    otd_model md;
    otd_kernel_kind kernel; /* how Y = S K is formed (kernel.h) */
    int m, r, k, nrows;
    int64_t d, np, npan;
    otd_comm *comm;
    const otd_layout *lay;
    const otd_target *target; /* r = 0: components unknown (tensor file) */
    otd_slab *slab;
    int32_t *idx; /* packed multi-index table, np x k */
    double *Wf;   /* all-gathered W, d x m */
    double *K;    /* one panel (BLAS) or chunk (kernel), npan x m */
    double *Y;    /* nrows x m */
    double *red;  /* allreduce buffer: W^T W (m x m), q (m), W^T U (m x r), flags */
} dense_state;

static void dense_destroy(void *p)
{
    dense_state *st = p;
    if (st == NULL)
        return;
    otd_model_free(&st->md);
    otd_slab_destroy(st->slab);
    free(st->idx);
    free(st->Wf);
    free(st->K);
    free(st->Y);
    free(st->red);
    free(st);
}

/* Panel height: the GEMM's inner dimension. BLAS runs fastest with the
 * whole inner dimension in one call, while a panel that stays in the last
 * level cache is read back by the GEMM without a trip to memory: 8 MiB of
 * panel (all of it for m = 10 at l = 3, d = 300). The full
 * (np x m) Khatri-Rao matrix of a large problem (8 GB at l = 3, d = 1000,
 * m = 1000) is never formed. The kernel takes chunks of OTD_KERNEL_CHUNK
 * rows instead, built just before use and read from the L2 cache, always at
 * that leading dimension (kernel.h): also when np is smaller. */
static int64_t panel_rows(otd_kernel_kind kernel, int64_t np, int64_t m)
{
    int64_t n = ((int64_t)1 << 20) / (m > 0 ? m : 1);
    if (kernel != OTD_KERNEL_BLAS)
        return OTD_KERNEL_CHUNK;
    if (n < 256)
        n = 256;
    return n < np ? n : np;
}

/* BLAS takes int dimensions, and m^2 elements index the Gram matrix. */
static otd_err dense_limits(const otd_config *cfg, const otd_layout *lay)
{
    if (cfg->model.m > 46340 || lay->d > INT_MAX)
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "model.m = %lld, problem.dim = %lld: the dense engine needs m^2 < 2^31 "
                         "(m <= 46340) and d < 2^31",
                         (long long)cfg->model.m, (long long)lay->d);
    return OTD_OK;
}

/* Generation (or reading) of the slab and everything dense_create keeps:
 * the slab, the packed index table (np x (l-1) int32), the gathered W and
 * MPI's receive buffer for it (d x m each), one panel of K, Y, the
 * allreduce buffer and the model's (the panel of whichever product needs
 * more). Reading a tensor file holds two
 * unpacked slices (d^(l-1) each); generating one, a^T U rows and a panel of
 * the components' products. */
static otd_err dense_memory(const otd_config *cfg, const otd_layout *lay, int64_t r, double *bytes)
{
    otd_err err = OTD_OK;
    const int l = cfg->problem.order;
    const int64_t slab = otd_slab_bytes(lay->d, l, lay->nranks),
                  np = otd_packed_count(lay->d, l - 1);
    const double m = (double)cfg->model.m, d = (double)lay->d,
                 rows = (double)((lay->d + lay->nranks - 1) / lay->nranks), rr = (double)r;
    /* The sizes BLAS cannot take are create's to refuse: first the bytes. */
    if (slab < 0 || np < 0)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.dim = %lld, problem.order = %d: the packed tensor (d * C(d+l-2, l-1) "
                 "entries) overflows 64-bit sizes",
                 (long long)lay->d, l);
    *bytes +=
        (double)slab + 4.0 * (double)np * (l - 1) +
        8.0 * (2.0 * d * m +
               fmax((double)panel_rows(OTD_KERNEL_BLAS, np, cfg->model.m), OTD_KERNEL_CHUNK) * m +
               rows * m + m * m + m + m * rr + OTD_EVAL_NFLAGS) +
        otd_model_bytes(cfg, lay);
    if (cfg->problem.tensor_file[0] != '\0')
        *bytes += 16.0 * pow(d, l - 1);
    else
        *bytes += 8.0 * (rows * rr + 2048.0 * rr);
done:
    return err;
}

static otd_err dense_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                            const otd_target *target, void **out)
{
    otd_err err = OTD_OK;
    dense_state *st = NULL;
    int64_t m = cfg->model.m;
    *out = NULL;
    OTD_CHECK(dense_limits(cfg, lay));
    OTD_ALLOC(st, 1);
    /* Every rank decides from its own CPU; a refusal on one is everyone's. */
    OTD_CHECK(otd_comm_agree(comm, otd_kernel_choose(&st->kernel)));
    OTD_CHECK(otd_model_init(&st->md, cfg, lay->nrows));
    st->m = (int)m;
    st->k = cfg->problem.order - 1;
    st->r = (int)target->r;
    st->d = lay->d;
    st->nrows = (int)lay->nrows;
    st->comm = comm;
    st->lay = lay;
    st->target = target;
    if (cfg->problem.tensor_file[0] != '\0')
        OTD_CHECK(otd_slab_read(cfg->problem.tensor_file, "problem.tensor_file", cfg->problem.order,
                                lay->d, cfg->problem.symmetry_tol, lay, comm, &st->slab));
    else
        OTD_CHECK(otd_slab_generate(cfg, lay, comm, target, &st->slab));
    st->np = st->slab->np;
    st->npan = panel_rows(st->kernel, st->np, m);
    st->idx = otd_packed_table(st->k, st->d, st->np);
    if (st->idx == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory for the packed index table");
    OTD_ALLOC(st->Wf, st->d * m);
    OTD_ALLOC(st->K, st->npan * m);
    OTD_ALLOC(st->Y, (int64_t)st->nrows * m);
    OTD_ALLOC(st->red, m * m + m + m * st->r + OTD_EVAL_NFLAGS);
    *out = st;
    st = NULL;
done:
    dense_destroy(st);
    return err;
}

/* Y = S K(W) over all panels: one DGEMM per panel, or the kernel per
 * chunk (K at the kernel's leading dimension; the next chunk of S
 * prefetched as it ends). */
static void contract(dense_state *st)
{
    const int n = st->nrows, m = st->m;
    const double *S = st->slab->S;
    if (st->kernel != OTD_KERNEL_BLAS)
        memset(st->Y, 0, sizeof *st->Y * (size_t)n * (size_t)m);
    for (int64_t p0 = 0; p0 < st->np; p0 += st->npan) {
        int64_t npan = st->np - p0 < st->npan ? st->np - p0 : st->npan;
        int64_t p1 = p0 + npan, nnext = st->np - p1 < st->npan ? st->np - p1 : st->npan;
        if (st->kernel != OTD_KERNEL_BLAS) {
            otd_packed_panel(st->k, st->d, st->idx, p0, npan, st->Wf, st->d, m, st->K,
                             OTD_KERNEL_CHUNK);
            otd_kernel_acc(n, m, npan, S + p0 * n, n, st->K, st->Y, n,
                           nnext > 0 ? S + p1 * n : NULL, nnext);
        } else {
            otd_packed_panel(st->k, st->d, st->idx, p0, npan, st->Wf, st->d, m, st->K, npan);
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, m, (int)npan, 1.0, S + p0 * n,
                        n, st->K, (int)npan, p0 == 0 ? 0.0 : 1.0, st->Y, n);
        }
    }
}

static otd_err dense_eval(void *p, const double *W, double *grad, otd_eval *ev)
{
    otd_err err = OTD_OK;
    dense_state *st = p;
    otd_model *md = &st->md;
    const int m = st->m, n = st->nrows, l = md->l;
    double *Graw = st->red, *q = st->red + (size_t)m * m, *WtU = q + m;
    OTD_CHECK(otd_comm_allgather_rows(st->comm, st->lay, W, m, st->Wf));
    contract(st);
    otd_model_gram(md, W, st->r > 0 ? st->target->U + st->lay->row0 : NULL, st->d, st->r, Graw,
                   WtU);
    for (int i = 0; i < m; i++)
        q[i] = cblas_ddot(n, W + (size_t)i * n, 1, st->Y + (size_t)i * n, 1);
    /* One collective: the upper triangle of W^T W, q, W^T U and the flags. */
    size_t np =
        otd_model_pack_gram(md, st->red, (size_t)m * (1 + st->r), otd_comm_size(st->comm) > 1);
    q = st->red + np;
    WtU = q + m;
    double *flags = WtU + (size_t)m * st->r;
    memcpy(flags, ev->flags, sizeof ev->flags);
    OTD_CHECK(otd_comm_sum(st->comm, st->red, np + (size_t)m * (1 + st->r) + OTD_EVAL_NFLAGS));
    memcpy(ev->flags, flags, sizeof ev->flags);
    double mag = 0, reg = otd_model_components(md, Graw), tt = otd_model_terms(md, Graw, &mag);
    otd_ksum ts = {0, 0};
    for (int i = 0; i < m; i++) {
        /* v_i^T T*(v_i^{(x)(l-1)}) = q_i / t_i^l */
        double vq = q[i] * otd_ipow(md->inv_t[i], l);
        otd_ksum_add(&ts, md->s[i] * vq);
        md->rho[i] += vq;
        /* q_i sums the whole tensor against w_i^{(x)l}: its rounding goes
         * with |T*| |v_i|^l (Cauchy-Schwarz), not with |q_i|. */
        mag +=
            2.0 * fabs(md->s[i]) * sqrt(st->slab->norm2) * otd_ipow(md->norms[i] * md->inv_t[i], l);
    }
    otd_engine_fill_eval(ev, tt, otd_ksum_value(&ts), st->slab->norm2, reg, mag, l, st->d,
                         md->norms, st->r > 0 ? WtU : NULL);
    if (grad == NULL)
        goto done;
    otd_model_finish_B(md);
    otd_model_apply(md, W, grad);
    for (int i = 0; i < m; i++)
        cblas_daxpy(n, -l * md->h[i] * otd_ipow(md->inv_t[i], l - 1), st->Y + (size_t)i * n, 1,
                    grad + (size_t)i * n, 1);
done:
    return err;
}

static void dense_describe(const void *p, char *buf, size_t n)
{
    const dense_state *st = p;
    int64_t rows = (st->d + st->lay->nranks - 1) / st->lay->nranks;
    snprintf(buf, n,
             "dense: mode-1 slices, %lld..%lld rows per rank, each packed over sorted "
             "multi-indices (%lld values, multiplicities folded in), %.3g MiB of tensor per rank "
             "(largest block); ||T*||_F = %.6g; product by %s (OTD_DENSE_KERNEL)",
             (long long)(st->d / st->lay->nranks), (long long)rows, (long long)st->np,
             (double)otd_slab_bytes(st->d, st->k + 1, st->lay->nranks) / 1048576.0,
             sqrt(st->slab->norm2), otd_kernel_name(st->kernel));
}

const otd_engine_ops otd_engine_dense = {
    .describe = dense_describe,
    .name = "dense",
    .id = OTD_ENGINE_DENSE,
    .memory = dense_memory,
    .create = dense_create,
    .eval = dense_eval,
    .destroy = dense_destroy,
};
