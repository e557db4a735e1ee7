/* report.h: what rank 0 prints about a run (banner, progress, summary). */
#ifndef OTD_REPORT_H
#define OTD_REPORT_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_driver.h"

/* All: printed by rank 0 only, to stdout, flushed (a batch log shows it
 * promptly). Not collective. */
void otd_report_banner(const otd_config *cfg, const otd_comm *comm, const otd_layout *lay,
                       const char *engine, const char *storage, const char *outdir);
void otd_report_progress(const otd_config *cfg, int64_t iter, double loss, double rel_err,
                         double elapsed, int64_t start_iter);
void otd_report_summary(const otd_run_summary *s, const char *path);

#endif
