"""A private, real Slurm on localhost for the integration tests.

    cluster = Slurm()
    cluster.start()            # munged, slurmctld, slurmd; waits until `sinfo` says idle
    job = cluster.submit([...]) # sbatch --parsable
    cluster.wait_job(job)       # bounded by a generous timeout that fails the test
    cluster.stop()              # every daemon and job process it started, by pid

Everything lives in one fresh temporary directory (config via SLURM_CONF,
state, spool, logs, pid files, a munged socket of its own) and the daemons
listen on free ports picked at start, so the cluster cannot clash with a
system Slurm or munge, nor with another such cluster. The configuration
follows docs/platform.md (single-node Slurm without systemd): 4 CPUs on
2 cores via config_overrides, proctrack/linuxproc, MpiDefault=pmix,
AuthInfo cred_expire=10 (else a requeued job waits two minutes).

If the cluster cannot be started (packages missing, not root, a daemon
failing) start() raises SlurmError with what went wrong and the daemon logs:
the tests then fail, they never skip.

A watchdog process (its own session) stops the daemons and the cluster's job
processes if the test process dies without calling stop() (e.g. killed by a
CTest timeout), so no daemon is ever left behind."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

# Waiting for Slurm: generous bounds that fail the test, never speed checks.
START_TIMEOUT = 60
JOB_TIMEOUT = 240
POLL = 0.2
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
            "PREEMPTED", "BOOT_FAIL", "DEADLINE"}


class SlurmError(Exception):
    pass


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid):
    """pid exists and is not a zombie (an exited daemon child may wait a
    while for init to reap it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _pids_with_env(key, value):
    """Pids whose environment has key=value: the cluster's slurmstepd, job
    shells and ranks all inherit SLURM_CONF=<this cluster's slurm.conf>."""
    want = ("%s=%s" % (key, value)).encode()
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % p, "rb") as f:
                if want in f.read().split(b"\0"):
                    out.append(int(p))
        except OSError:
            pass
    return out


# The watchdog: stops the cluster if the process that started it goes away
# without stopping it. Arguments: parent pid, directory, slurm.conf path.
_WATCHDOG = textwrap.dedent("""\
    import os, signal, sys, time
    sys.path.insert(0, %r)
    import slurmtest
    parent, top, conf = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    while slurmtest._alive(parent) and os.path.isdir(top):
        time.sleep(1)
    if os.path.isdir(top):
        slurmtest._stop_processes(top, conf)
        import shutil
        shutil.rmtree(top, ignore_errors=True)
    """)


def _kill_and_wait(pids, sig, timeout):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def _stop_processes(top, conf):
    """Stop what a cluster in `top` started: slurmd, slurmctld, munged (by
    their pid files, TERM then KILL), then any job process left (slurmstepd,
    batch shells, ranks: found by SLURM_CONF in their environment)."""
    for name in ("slurmd", "slurmctld", "munged"):
        pid = _read_pid(os.path.join(top, "run", name + ".pid"))
        if pid is not None and _alive(pid):
            left = _kill_and_wait([pid], signal.SIGTERM, 15)
            if left:
                _kill_and_wait(left, signal.SIGKILL, 5)
    left = _pids_with_env("SLURM_CONF", conf) if conf else []
    if left:
        left = _kill_and_wait(left, signal.SIGTERM, 5)
        if left:
            _kill_and_wait(left, signal.SIGKILL, 5)


class Slurm:
    """One private single-node Slurm cluster (see the module docstring)."""

    def __init__(self, cpus=4):
        self.cpus = cpus
        self.top = None
        self.conf = None
        self.env = None
        self._watchdog = None

    # ------------------------------------------------------------ lifecycle

    def start(self):
        missing = [p for p in ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")
                   if not os.access(p, os.X_OK)]
        missing += [c for c in ("sbatch", "squeue", "scontrol", "scancel", "sinfo", "srun",
                                "runuser") if shutil.which(c) is None]
        if missing:
            raise SlurmError("cannot start Slurm: missing %s (bash jobs/setup.sh installs "
                             "slurmctld slurmd slurm-client munge)" % ", ".join(missing))
        if os.geteuid() != 0:
            raise SlurmError("cannot start Slurm: the test cluster's daemons run as root "
                             "(SlurmUser=root) and munged as the munge user; run as root")
        self.top = tempfile.mkdtemp(prefix="otd-slurm-")
        try:
            self._start()
        except Exception as e:  # say why, with the daemons' logs; leave nothing running
            logs = self.logs()
            self.stop()
            raise SlurmError("cannot start Slurm: %s\n%s" % (e, logs)) from None
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        top = self.top
        os.chmod(top, 0o755)  # munged wants every directory up to its socket searchable
        for d in ("run", "state", "spool", "log", "tmp", "munge"):
            os.mkdir(os.path.join(top, d))
        munge_dir = os.path.join(top, "munge")
        shutil.chown(munge_dir, "munge", "munge")
        os.chmod(munge_dir, 0o755)
        socket_path = os.path.join(munge_dir, "munge.socket")
        self.conf = os.path.join(top, "slurm.conf")
        ctld_port, slurmd_port = _free_port(), _free_port()
        while slurmd_port == ctld_port:
            slurmd_port = _free_port()
        with open(self.conf, "w") as f:
            f.write(textwrap.dedent("""\
                # A private single-node cluster for otd's tests (tests/integration/slurmtest.py)
                ClusterName=otdtest
                SlurmctldHost=localhost(127.0.0.1)
                SlurmctldPort={ctld_port}
                SlurmdPort={slurmd_port}
                SlurmUser=root
                SlurmdUser=root
                AuthType=auth/munge
                CredType=cred/munge
                AuthInfo=cred_expire=10,socket={socket}
                StateSaveLocation={top}/state
                SlurmdSpoolDir={top}/spool
                SlurmctldPidFile={top}/run/slurmctld.pid
                SlurmdPidFile={top}/run/slurmd.pid
                SlurmctldLogFile={top}/log/slurmctld.log
                SlurmdLogFile={top}/log/slurmd.log
                TmpFS={top}/tmp
                SlurmdParameters=config_overrides
                ProctrackType=proctrack/linuxproc
                TaskPlugin=task/none
                JobAcctGatherType=jobacct_gather/none
                AccountingStorageType=accounting_storage/none
                SelectType=select/cons_tres
                SchedulerType=sched/backfill
                MpiDefault=pmix
                ReturnToService=2
                MinJobAge=3600
                KillWait=10
                NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
                PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
                """).format(top=top, socket=socket_path, ctld_port=ctld_port,
                            slurmd_port=slurmd_port, cpus=self.cpus))
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        # Slurm variables of an enclosing job would confuse sbatch/srun here.
        for k in list(self.env):
            if k.startswith("SLURM_") and k != "SLURM_CONF":
                del self.env[k]

        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG % os.path.dirname(os.path.abspath(__file__)),
             str(os.getpid()), top, self.conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

        # munged as the munge user, with a socket of its own (Debian's
        # postinst made /etc/munge/munge.key).
        self._daemon(["runuser", "-u", "munge", "--", "/usr/sbin/munged",
                      "--socket=" + socket_path,
                      "--pid-file=" + os.path.join(munge_dir, "munged.pid"),
                      "--seed-file=" + os.path.join(munge_dir, "munged.seed"),
                      "--log-file=" + os.path.join(munge_dir, "munged.log")], "munged")
        self._link_pid(os.path.join(munge_dir, "munged.pid"), "munged")
        self._daemon(["/usr/sbin/slurmctld"], "slurmctld")
        self._daemon(["/usr/sbin/slurmd", "-N", "localhost"], "slurmd")
        self.wait_for(lambda: self._sinfo_state() == "idle", START_TIMEOUT,
                      "the node to be idle (sinfo)")

    def _daemon(self, cmd, name):
        """Start a self-daemonizing program; it must exit 0 (having forked)."""
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise SlurmError("%s exited %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                     p.stderr))

    def _link_pid(self, path, name):
        """All pid files under run/ (munged writes its own in its directory)."""
        end = time.monotonic() + 10
        while _read_pid(path) is None and time.monotonic() < end:
            time.sleep(0.05)
        if _read_pid(path) is None:
            raise SlurmError("%s wrote no pid file %s" % (name, path))
        os.symlink(path, os.path.join(self.top, "run", name + ".pid"))

    def _sinfo_state(self):
        p = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True,
                           text=True, timeout=30)
        return p.stdout.strip()

    def stop(self):
        """Cancel every job, stop the daemons and leftovers, remove the directory."""
        if self.top is None:
            return
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        if self.conf is not None and self.env is not None:
            try:
                subprocess.run(["scancel", "--user=root"], env=self.env, capture_output=True,
                               timeout=30)
                self.wait_for(lambda: self.squeue() == "", 30, None)
            except (subprocess.SubprocessError, AssertionError, OSError):
                pass
        _stop_processes(self.top, self.conf or "")
        shutil.rmtree(self.top, ignore_errors=True)
        self.top = None

    def logs(self):
        """The daemons' logs (tails), for failure messages."""
        if self.top is None:
            return ""
        out = []
        for rel in ("log/slurmctld.log", "log/slurmd.log", "munge/munged.log"):
            try:
                with open(os.path.join(self.top, rel), errors="replace") as f:
                    out.append("--- %s\n%s" % (rel, "".join(f.readlines()[-30:])))
            except OSError:
                pass
        return "\n".join(out)

    # ---------------------------------------------------------------- jobs

    def cmd(self, args, env=None, check=True):
        """Run a Slurm client command against this cluster; return stdout."""
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run(args, env=e, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d\n%s%s" % (" ".join(args), p.returncode,
                                                         p.stdout, p.stderr))
        return p.stdout

    def submit(self, args, env=None):
        """sbatch --parsable ARGS (env added to the submitting environment,
        which sbatch exports to the job); returns the job id as a string."""
        out = self.cmd(["sbatch", "--parsable"] + list(args), env=env)
        return out.strip().split(";")[0]

    def squeue(self, jobid=None):
        args = ["squeue", "-h", "-o", "%i %T %r"]
        if jobid is not None:
            args += ["-j", str(jobid)]
        return self.cmd(args, check=False).strip()

    def jobs(self, jobid):
        """[{field: value}] from `scontrol show job -o JOBID` (one record per
        array task for an array job)."""
        out = self.cmd(["scontrol", "show", "job", "-o", str(jobid)])
        recs = []
        for line in out.splitlines():
            rec = {}
            for m in re.finditer(r"(\S+?)=(\S*)", line):
                rec.setdefault(m.group(1), m.group(2))
            if rec:
                rec["Restarts"] = int(rec.get("Restarts", "0"))
                recs.append(rec)
        return recs

    def job(self, jobid):
        """State of one job: JobState, Restarts (int), ExitCode, Reason, ..."""
        recs = self.jobs(jobid)
        if len(recs) != 1:
            raise AssertionError("job %s: %d records" % (jobid, len(recs)))
        return recs[0]

    def restart_count(self, jobid):
        return self.job(jobid)["Restarts"]

    def wait_for(self, pred, timeout, what):
        """Poll pred() until true; fail (AssertionError) after timeout seconds."""
        end = time.monotonic() + timeout
        while True:
            if pred():
                return
            if time.monotonic() > end:
                raise AssertionError("timed out after %d s waiting for %s\nsqueue:\n%s\n%s"
                                     % (timeout, what, self.squeue(), self.logs()))
            time.sleep(POLL)

    def wait_job(self, jobid, timeout=JOB_TIMEOUT):
        """Wait until the job (every task of an array) has ended for good:
        it has left squeue's pending/running list and every record is in a
        terminal state (a requeued job is PENDING again, so it counts as
        not ended). Returns the records."""
        def ended():
            if self.squeue(jobid):
                return False
            return all(r.get("JobState") in TERMINAL for r in self.jobs(jobid))
        self.wait_for(ended, timeout, "job %s to end" % jobid)
        return self.jobs(jobid)

    def wait_state(self, jobid, pred, timeout=JOB_TIMEOUT, what="a job state"):
        """Wait until pred(job record) holds for one job; return the record."""
        rec = {}

        def ok():
            rec.clear()
            rec.update(self.job(jobid))
            return pred(rec)
        self.wait_for(ok, timeout, "job %s: %s" % (jobid, what))
        return dict(rec)

    def signal_batch(self, jobid, sig="USR1"):
        """Send sig to the batch shell only, as Slurm's --signal=B:SIG@T does."""
        self.cmd(["scancel", "--signal=" + sig, "--batch", str(jobid)])

    def hold(self, jobid):
        """Hold a job: a held running job keeps running, and once requeued it
        stays pending until released (this makes a test deterministic)."""
        self.cmd(["scontrol", "hold", str(jobid)])

    def release(self, jobid):
        """Release a held job and let it start now (a requeued job would wait
        for cred_expire otherwise)."""
        self.cmd(["scontrol", "release", str(jobid)])
        self.cmd(["scontrol", "update", "jobid=%s" % jobid, "StartTime=now"], check=False)

    def cancel(self, jobid):
        self.cmd(["scancel", str(jobid)], check=False)
