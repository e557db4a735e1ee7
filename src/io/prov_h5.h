/* prov_h5.h: the HDF5 side of /provenance in results.h5, private to src/io
 * (results.c calls it inside its agreed write steps; see otd_results.h). */
#ifndef OTD_PROV_H5_H
#define OTD_PROV_H5_H

#include <hdf5.h>

#include "otd/otd_results.h"

/* Collective in a parallel file: create /provenance if needed and write
 * (replace) its string attributes. A failure may differ between ranks:
 * agree afterwards. */
otd_err otd_h5_prov_attrs(hid_t file, const otd_attr *attrs, int nattrs);

/* Collective in a parallel file: append r to /provenance/resumes (created
 * on the first resume), rewriting the record whole; `writer` (one rank)
 * writes the rows through the collective transfer list dxpl, the others
 * join. Agree afterwards. */
otd_err otd_h5_prov_resume(hid_t file, hid_t dxpl, int writer, const otd_results_resume *r);

#endif
