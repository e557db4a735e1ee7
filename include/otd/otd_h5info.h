/* otd_h5info.h: what is in any HDF5 file otd reads or writes (results,
 * checkpoint, tensor, sweep summary), as plain C values: the attributes of
 * the root, of /summary and of /provenance, and every dataset with its shape and type. This
 * is what `otd info` shows; it formats, this reads.
 *
 * Read with HDF5's default (serial) driver: not collective, no MPI needed. */
#ifndef OTD_H5INFO_H
#define OTD_H5INFO_H

#include <stdint.h>

#include "otd/otd_error.h"

/* HDF5's limit on dimensions (H5S_MAX_RANK). */
#define OTD_INFO_MAX_RANK 32

typedef enum {
    OTD_VALUE_STRING, /* one string: text */
    OTD_VALUE_INT,    /* n >= 1 integers: ints */
    OTD_VALUE_FLOAT,  /* n >= 1 floating-point numbers: reals */
    OTD_VALUE_OTHER,  /* anything else: n values of HDF5 type class type_class */
} otd_h5info_kind;

typedef struct {
    char *name;
    otd_h5info_kind kind;
    int64_t n;
    char *text;
    int64_t *ints;
    double *reals;
    int type_class; /* HDF5's H5T_class_t, as a number (OTHER only) */
} otd_h5info_attr;

/* The attributes of one object, by name. */
typedef struct {
    otd_h5info_attr *v;
    int64_t n;
} otd_h5info_attrs;

typedef struct {
    char *path; /* from the root, as HDF5 names it: "history/iter" */
    int rank;   /* 0: a scalar */
    uint64_t dims[OTD_INFO_MAX_RANK];
    char type[32]; /* "float64", "int32", "uint8", "string", "type class N" */
    int has_last;  /* a 1-D integer or float dataset with rows: */
    double last;   /* its last element (a history column's newest row) */
} otd_h5info_dataset;

/* A group other than the root that has attributes (/summary, /provenance). */
typedef struct {
    char *path; /* from the root: "provenance" */
    otd_h5info_attrs attrs;
} otd_h5info_group;

typedef struct {
    char *path;            /* the file read */
    otd_h5info_attrs root; /* attributes of / */
    otd_h5info_dataset *dsets;
    int64_t ndsets;              /* every dataset reached by a hard link, by name, depth first */
    int has_summary;             /* /summary exists: */
    otd_h5info_attrs summary;    /* its attributes */
    int has_history;             /* /history exists */
    int has_provenance;          /* /provenance exists (results.h5): */
    otd_h5info_attrs provenance; /* its attributes */
    otd_h5info_group *groups;    /* every group with attributes but the root, by name, */
    int64_t ngroups;             /* depth first (JSON output shows them all) */
} otd_h5info;

/* Read what `arg` holds into a zeroed *info (free it with otd_h5info_free
 * whatever the result). arg is an HDF5 file or a run directory (then its
 * results.h5). A path that does not exist or cannot be read, or a directory
 * without results.h5, is OTD_ERR_ARG; a file that is not HDF5 or that HDF5
 * cannot open (truncated, damaged) OTD_ERR_FORMAT; a failure while reading
 * an opened file OTD_ERR_HDF5. Not collective. */
otd_err otd_h5info_read(const char *arg, otd_h5info *info);
void otd_h5info_free(otd_h5info *info);

/* The attribute `name` of a, or NULL. */
const otd_h5info_attr *otd_h5info_attr_find(const otd_h5info_attrs *a, const char *name);

/* The group at `path` ("provenance"), or NULL if it has no attributes. */
const otd_h5info_group *otd_h5info_group_find(const otd_h5info *info, const char *path);

/* The dataset at `path` ("history/iter"), or NULL. */
const otd_h5info_dataset *otd_h5info_dataset_find(const otd_h5info *info, const char *path);

#endif
