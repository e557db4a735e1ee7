/* report.h: what rank 0 prints about a run (banner, progress, summary) to
 * the stream the run call was given. No algorithm is named here: the
 * algorithm's line comes from otd_algo_describe. */
#ifndef OTD_REPORT_H
#define OTD_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_run.h"

/* All: called by rank 0 only; each line flushed (a batch log shows it
 * promptly). Not collective. out NULL: print nothing (quiet mode). */
void otd_report_banner(FILE *out, const otd_config *cfg, const otd_layout *lay, const char *engine,
                       const char *storage, const char *algo, const char *outdir);
void otd_report_resume(FILE *out, int64_t iter, int nranks, int64_t history_rows);
void otd_report_progress(FILE *out, const otd_config *cfg, int64_t iter, double loss,
                         double rel_err, double rel_err_res, double elapsed, int64_t start_iter);
void otd_report_summary(FILE *out, const otd_run_summary *s, const char *path);
/* One line, printf-style, indented by two spaces unless it starts "otd:". */
void otd_report_line(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The stream for what only narrates the run (banner, progress): NULL when
 * opts asks for quiet, else out. */
FILE *otd_report_chatter(FILE *out, const otd_run_opts *opts);

#endif
