# mpich-blis.cmake: otd with MPICH, ScaLAPACK and parallel HDF5 built for
# MPICH, and BLIS, all from Debian 12's packages (mpich libmpich-dev
# libscalapack-mpich-dev libhdf5-mpich-dev libblis-dev; jobs/setup.sh
# installs them). Open MPI and OpenBLAS stay the system's defaults (Debian's
# alternatives): everything here is named by its flavour-specific path.
#
#   cmake -C jobs/toolchains/mpich-blis.cmake -S . -B build-mpich
#   cmake --build build-mpich
#   mpiexec.mpich -n 2 build-mpich/otd run jobs/configs/default.yaml --out DIR
#
# An initial-cache file: every setting is an ordinary cache variable, and a
# -D on the command line after -C overrides it. The same variables pick a
# cluster's modules (see README.md, Building on a cluster).

set(otd_lib /usr/lib/x86_64-linux-gnu)

# MPI: FindMPI asks this wrapper for the flags; tests and the modulefile
# launch with this mpiexec.
set(MPI_C_COMPILER /usr/bin/mpicc.mpich CACHE FILEPATH "MPICH's C wrapper")
set(MPIEXEC_EXECUTABLE /usr/bin/mpiexec.mpich CACHE FILEPATH "MPICH's mpiexec (Hydra)")

# Parallel HDF5 for MPICH: FindHDF5 asks its h5pcc.
set(HDF5_C_COMPILER_EXECUTABLE /usr/bin/h5pcc.mpich CACHE FILEPATH "HDF5-MPICH's h5pcc")

# BLAS: BLIS is FindBLAS's vendor FLAME (libblis). BLIS has no LAPACK: the
# reference LAPACK (FindLAPACK's Generic) runs on top of it.
set(BLA_VENDOR FLAME CACHE STRING "BLAS vendor: BLIS")
set(OTD_LAPACK_VENDOR Generic CACHE STRING "LAPACK vendor: the reference LAPACK")

# Debian's libscalapack-mpich and the reference liblapack ask for the
# generic sonames libblas.so.3 and liblapack.so.3, which the system's
# alternatives resolve to OpenBLAS. Searching these directories first makes
# FindBLAS/FindLAPACK link BLIS's libblas.so.3 and the reference
# liblapack.so.3 by their paths, and CMake's RUNPATH then loads those (and
# no OpenBLAS) at run time. Debian's gcc links --as-needed, which would drop
# libblas.so.3 (libblis.so.4 has the same symbols) and leave that soname to
# the alternatives: --no-as-needed keeps it.
set(CMAKE_LIBRARY_PATH "${otd_lib}/blis-openmp;${otd_lib}/lapack" CACHE STRING
    "BLIS and the reference LAPACK before the alternatives")
set(CMAKE_EXE_LINKER_FLAGS "-Wl,--no-as-needed" CACHE STRING "keep every library linked")
# BLIS's own cblas.h (the default one is OpenBLAS's).
set(CMAKE_INCLUDE_PATH /usr/include/x86_64-linux-gnu/blis-openmp CACHE STRING "BLIS's cblas.h")
# An installed otd keeps that RUNPATH.
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON CACHE BOOL "keep BLIS's and LAPACK's directories")

# ScaLAPACK: pkg-config's scalapack-mpich, chosen because the MPI is MPICH
# (elsewhere: -DSCALAPACK_LIBRARIES=...).
