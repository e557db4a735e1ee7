"""Check that this Python can run the analysis scripts, before they import.

The scripts need Debian's h5py, numpy, matplotlib, pandas and yaml, which
/usr/bin/python3 has (jobs/setup.sh installs them); another python3 (a
virtualenv, conda, a module's Python) usually lacks h5py built for the same
HDF5 and fails deep inside an import with a message that does not say
which interpreter to use. So each script calls require() first:

    import otd_env
    otd_env.require("h5py", "numpy", "matplotlib")

and a missing module ends the script with exit status 2 (a usage error: the
command must change) and one message naming /usr/bin/python3.
"""

import importlib
import os
import sys

PYTHON = "/usr/bin/python3"
EXIT_USAGE = 2

# The Debian package of each module the scripts use.
PACKAGES = {
    "h5py": "python3-h5py",
    "numpy": "python3-numpy",
    "matplotlib": "python3-matplotlib",
    "pandas": "python3-pandas",
    "yaml": "python3-yaml",
}


def missing(modules):
    """The modules of `modules` this interpreter cannot import, with why."""
    out = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as e:
            out.append((name, str(e)))
    return out


def message(absent, prog=None):
    """The text require() prints for the (module, reason) pairs absent."""
    prog = prog or os.path.basename(sys.argv[0] or "python3") or "python3"
    names = ", ".join(n for n, _ in absent)
    pkgs = " ".join(PACKAGES.get(n, n) for n, _ in absent)
    lines = [f"{prog}: this Python ({sys.executable or 'python3'}) cannot import {names}."]
    if sys.flags.no_site or sys.flags.isolated:
        lines.append("It was started without its site-packages (-S or -I).")
    lines.append(f"Run the otd analysis scripts with {PYTHON}, which has them as Debian "
                 f"packages ({pkgs}; bash jobs/setup.sh installs them), e.g.")
    lines.append(f"  {PYTHON} {' '.join(sys.argv) if sys.argv and sys.argv[0] else '...'}")
    return "\n".join(lines)


def require(*modules):
    """Exit with status 2 and message() unless every module imports."""
    absent = missing(modules)
    if absent:
        print(message(absent), file=sys.stderr)
        sys.exit(EXIT_USAGE)
