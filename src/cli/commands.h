/* commands.h: the sub-commands of `otd`, one file each under src/cli/.
 *
 * Each takes the arguments after "otd" (argv[0] is the sub-command name) and
 * returns the process exit status. main() initializes MPI before calling one
 * and finalizes after, except for sweep and collect (see main.c). */
#ifndef OTD_COMMANDS_H
#define OTD_COMMANDS_H

#include <stdio.h>

#include "otd/otd_status.h"

/* `otd info FILE.h5`: summarize any otd HDF5 file (results, checkpoint)
 * on stdout. Not collective: reads with HDF5's serial driver, so run it on
 * one rank. Returns 0 on success, 2 on a usage error, 1 if the file cannot be
 * read (message on stderr). */
int otd_cmd_info(int argc, char **argv);

/* Exit statuses: OTD_EXIT_* of otd_status.h. */

/* `otd run [CONFIG.yaml] [--set KEY=VALUE]... [--out DIR]`. Collective: every
 * rank of the job calls it. */
int otd_cmd_run(int argc, char **argv);

/* `otd bench [--case ENGINE:l:d:m[:r]]...`: time the engines' steps against
 * this machine's DGEMM rate and read bandwidth. Collective. */
int otd_cmd_bench(int argc, char **argv);

/* `otd tensor [CONFIG.yaml] [--set KEY=VALUE]... --out FILE.h5`: write the
 * generated target tensor (with problem.noise) as /T of a new HDF5 file, for
 * problem.tensor_file. Collective. */
int otd_cmd_tensor(int argc, char **argv);

/* `otd sweep FILE --out DIR [...]`: expand a sweep file, run its points
 * here or submit them to Slurm. Not an MPI command: main() does not
 * initialize MPI for it (it starts mpirun children). */
int otd_cmd_sweep(int argc, char **argv);
void otd_cmd_sweep_usage(FILE *out);

/* `otd sweep-run DIR [--share FILE]`: run a sweep directory's points in
 * this MPI job (otd_runner.h). Collective. */
int otd_cmd_sweep_run(int argc, char **argv);
void otd_cmd_sweep_run_usage(FILE *out);

/* `otd collect DIR`: summarize a sweep directory. Not an MPI command. */
int otd_cmd_collect(int argc, char **argv);
void otd_cmd_collect_usage(FILE *out);

/* Print the run usage (with the options table) to out. */
void otd_cmd_run_usage(FILE *out);

#endif
