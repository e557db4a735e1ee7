"""A private, real Slurm for the integration tests: one node on localhost
(Slurm), or a cluster of several nodes on this one machine (MultiNodeSlurm).

    cluster = Slurm()           # or MultiNodeSlurm(nodes=2, cpus=2)
    cluster.start()             # munged, slurmctld, slurmd(s); waits until `sinfo` says idle
    job = cluster.submit([...]) # sbatch --parsable
    cluster.wait_job(job)       # bounded by a generous timeout that fails the test
    cluster.stop()              # every daemon and job process it started; its namespaces

Everything lives in one fresh temporary directory (config via SLURM_CONF,
state, spool, logs, pid files, a munged socket of its own), so a cluster
cannot clash with a system Slurm or munge, nor with another such cluster.
The configuration follows docs/platform.md (Slurm without systemd): more
CPUs than cores via config_overrides, proctrack/linuxproc, MpiDefault=pmix,
AuthInfo cred_expire=10 (else a requeued job waits two minutes).

Slurm: slurmctld and one slurmd (`-N localhost`) on 127.0.0.1, on free ports.

MultiNodeSlurm: each node is a Linux network namespace with its own address
on a private subnet (SUBNET.k, a veth pair into a bridge), a UTS namespace
with its own host name (nodeK) and a mount namespace with its own TmpFS and
/dev/shm (node-local storage), running its own `slurmd -N nodeK`. slurmctld
runs in a "head" namespace that holds the bridge (SUBNET.254, host name
head). Addresses exist only inside these namespaces; nothing of the
machine's own network is touched. munged runs once, outside, and every
daemon reaches its socket through the file system, which the nodes share
(the tests' directories, the build) as a cluster's nodes share a network
file system. Client commands (sbatch, squeue, `otd sweep --submit`) run in
the head namespace: cluster.cmd() does that, cluster.client(argv) gives the
command line for other programs. Ranks on different nodes talk over TCP on
the subnet (docs/platform.md, "A multi-node cluster on one machine").
Namespaces are named NETNS_PREFIX<pid of the test process>-<k>-<node>.

A start first removes what earlier clusters left when their test process
and its watchdog were both killed: the daemons and directories of those
whose owner (run/owner) and watchdog are gone, and namespaces named for a
test process that no longer exists.

If the cluster cannot be started (packages missing, not root, a daemon
failing) start() raises SlurmError with what went wrong and the daemon logs:
the tests then fail, they never skip.

A watchdog process stops the daemons, the cluster's job processes and its
namespaces if the test process dies without calling stop() (e.g. killed by
a CTest timeout). It runs in a session of its own and is detached from the
test process (double fork): CTest's timeout kills the test's whole process
tree, and a watchdog still in it would die with the test."""
import glob
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

from otdtest import OTD, SOURCE, TmpTestCase, read, run, run_command

# Waiting for Slurm: generous bounds that fail the test, never speed checks.
START_TIMEOUT = 60
JOB_TIMEOUT = 240
POLL = 0.2
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
            "PREEMPTED", "BOOT_FAIL", "DEADLINE"}

# The job scripts the test cases submit.
JOBS = os.path.join(SOURCE, "jobs")
RUN_ONE = os.path.join(JOBS, "slurm", "run_one.sbatch")

# MultiNodeSlurm: namespace names, and the subnet that exists only inside them.
NETNS_PREFIX = "otdmn"
SUBNET = "10.211.0"
HEAD_HOST = 254


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


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def _has_env(pid, key, value):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return ("%s=%s" % (key, value)).encode() in f.read().split(b"\0")
    except OSError:
        return False


def _pids_with_env(key, value):
    """Pids whose environment has key=value: the cluster's daemons (started
    with it), slurmstepd, job shells and ranks all have SLURM_CONF=<this
    cluster's slurm.conf>."""
    return [int(p) for p in os.listdir("/proc")
            if p.isdigit() and int(p) != os.getpid() and _has_env(int(p), key, value)]


def _ip(args, check=True):
    """Run `ip ARGS`; raise SlurmError with its message if it fails."""
    p = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise SlurmError("ip %s exited %d: %s" % (" ".join(args), p.returncode,
                                                  (p.stdout + p.stderr).strip()))
    return p.stdout


def netns_names():
    """The names of the machine's network namespaces (`ip netns list`)."""
    return [line.split()[0] for line in _ip(["netns", "list"], check=False).splitlines()
            if line.strip()]


def netns_pids(name):
    """Pids of the processes in network namespace `name` (`ip netns pids`)."""
    return [int(x) for x in _ip(["netns", "pids", name], check=False).split() if x.isdigit()]


def _remove_netns(names):
    """SIGKILL every process in each namespace, then delete it (its veth
    ends and bridge go with it). Namespaces already gone are skipped."""
    if not names:
        return
    existing = set(netns_names())
    for name in names:
        if name not in existing:
            continue
        end = time.monotonic() + 15
        while time.monotonic() < end:
            pids = [p for p in netns_pids(name) if p != os.getpid() and _alive(p)]
            if not pids:
                break
            _kill_and_wait(pids, signal.SIGKILL, 5)
        _ip(["netns", "delete", name], check=False)


def _remove_stale_netns():
    """Namespaces of a multi-node test cluster (NETNS_PREFIX<pid>-...) whose
    test process is gone: left by a run killed with its watchdog. Ours for
    certain, so removed with everything in them."""
    stale = []
    for name in netns_names():
        m = re.match(r"^%s(\d+)-" % NETNS_PREFIX, name)
        if m and not _alive(int(m.group(1))):
            stale.append(name)
    _remove_netns(stale)


def _remove_stale_clusters():
    """Clusters (otd-slurm-* directories) whose test process and watchdog are
    both gone, e.g. killed together: stopped (their daemons, job processes
    and namespaces) and removed. A directory without run/owner is not one
    of these (another program's, or an older slurmtest's) and is left alone."""
    for top in glob.glob(os.path.join(tempfile.gettempdir(), "otd-slurm-*")):
        run = os.path.join(top, "run")
        owner = _read_pid(os.path.join(run, "owner"))
        watchdog = _read_pid(os.path.join(run, "watchdog.pid"))
        if owner is None or _alive(owner) or (watchdog is not None and _alive(watchdog)):
            continue
        _stop_processes(top, os.path.join(top, "slurm.conf"))
        shutil.rmtree(top, ignore_errors=True)


# The watchdog: stops the cluster if the process that started it goes away
# without stopping it. Arguments: parent pid, directory, slurm.conf path.
# It forks once more and the first child exits: the watchdog is then no
# longer in the test's process tree, which a CTest timeout kills whole.
_WATCHDOG = textwrap.dedent("""\
    import os, signal, sys, time
    sys.path.insert(0, %r)
    if os.fork() > 0:
        os._exit(0)
    import slurmtest
    parent, top, conf = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(os.path.join(top, "run", "watchdog.pid"), "w") as f:
        f.write("%%d\\n" %% os.getpid())
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
    """Stop what a cluster in `top` started: the slurmd(s), slurmctld,
    munged (by their pid files, TERM then KILL), then any job process left
    (slurmstepd, batch shells, ranks: found by SLURM_CONF in their
    environment), then its network namespaces (run/netns, written before
    each was made) with whatever is still in them."""
    run = os.path.join(top, "run")
    for path in (sorted(glob.glob(os.path.join(run, "slurmd*.pid"))) +
                 [os.path.join(run, n + ".pid") for n in ("slurmctld", "munged")]):
        pid = _read_pid(path)
        # Only a daemon of this cluster: a pid file left long ago may name a
        # pid that now belongs to something else.
        if pid is not None and _alive(pid) and _has_env(pid, "SLURM_CONF", conf):
            left = _kill_and_wait([pid], signal.SIGTERM, 15)
            if left:
                _kill_and_wait(left, signal.SIGKILL, 5)
    left = _pids_with_env("SLURM_CONF", conf) if conf else []
    if left:
        left = _kill_and_wait(left, signal.SIGTERM, 5)
        if left:
            _kill_and_wait(left, signal.SIGKILL, 5)
    try:
        with open(os.path.join(run, "netns")) as f:
            names = f.read().split()
    except OSError:
        names = []
    _remove_netns(names)


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
        missing += [c for c in self._commands() if shutil.which(c) is None]
        if missing:
            raise SlurmError("cannot start Slurm: missing %s (bash jobs/setup.sh installs "
                             "slurmctld slurmd slurm-client munge)" % ", ".join(missing))
        if os.geteuid() != 0:
            raise SlurmError("cannot start Slurm: the test cluster's daemons run as root "
                             "(SlurmUser=root) and munged as the munge user; run as root")
        _remove_stale_clusters()
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

    def _commands(self):
        """Programs start() needs on PATH."""
        return ("sbatch", "squeue", "scontrol", "scancel", "sinfo", "srun", "runuser")

    def _start(self):
        top = self.top
        os.chmod(top, 0o755)  # munged wants every directory up to its socket searchable
        for d in ("run", "state", "spool", "log", "tmp", "munge"):
            os.mkdir(os.path.join(top, d))
        with open(os.path.join(top, "run", "owner"), "w") as f:
            f.write("%d\n" % os.getpid())
        munge_dir = os.path.join(top, "munge")
        shutil.chown(munge_dir, "munge", "munge")
        os.chmod(munge_dir, 0o755)
        socket_path = os.path.join(munge_dir, "munge.socket")
        self.conf = os.path.join(top, "slurm.conf")
        with open(self.conf, "w") as f:
            f.write(textwrap.dedent("""\
                # A private cluster for otd's tests (tests/integration/slurmtest.py)
                ClusterName=otdtest
                SlurmUser=root
                SlurmdUser=root
                AuthType=auth/munge
                CredType=cred/munge
                AuthInfo=cred_expire=10,socket={socket}
                StateSaveLocation={top}/state
                SlurmctldPidFile={top}/run/slurmctld.pid
                SlurmctldLogFile={top}/log/slurmctld.log
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
                """).format(top=top, socket=socket_path) + self._conf_nodes())
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        # Slurm variables of an enclosing job would confuse sbatch/srun here.
        for k in list(self.env):
            if k.startswith("SLURM_") and k != "SLURM_CONF":
                del self.env[k]

        launcher = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG % os.path.dirname(os.path.abspath(__file__)),
             str(os.getpid()), top, self.conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        launcher.wait()
        self._watchdog = os.path.join(top, "run", "watchdog.pid")
        self.wait_for(lambda: _read_pid(self._watchdog) is not None, START_TIMEOUT,
                      "the watchdog to start")

        # munged as the munge user, with a socket of its own (Debian's
        # postinst made /etc/munge/munge.key).
        self._daemon(["runuser", "-u", "munge", "--", "/usr/sbin/munged",
                      "--socket=" + socket_path,
                      "--pid-file=" + os.path.join(munge_dir, "munged.pid"),
                      "--seed-file=" + os.path.join(munge_dir, "munged.seed"),
                      "--log-file=" + os.path.join(munge_dir, "munged.log")], "munged")
        self._link_pid(os.path.join(munge_dir, "munged.pid"), "munged")
        self._start_slurm()
        self.wait_for(self.all_idle, START_TIMEOUT, "every node to be idle (sinfo)")

    def _conf_nodes(self):
        """slurm.conf lines naming the controller, the ports and the node."""
        ctld_port, slurmd_port = _free_port(), _free_port()
        while slurmd_port == ctld_port:
            slurmd_port = _free_port()
        return textwrap.dedent("""\
            SlurmctldHost=localhost(127.0.0.1)
            SlurmctldPort={ctld_port}
            SlurmdPort={slurmd_port}
            SlurmdSpoolDir={top}/spool
            SlurmdPidFile={top}/run/slurmd.pid
            SlurmdLogFile={top}/log/slurmd.log
            NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
            PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
            """).format(top=self.top, ctld_port=ctld_port, slurmd_port=slurmd_port,
                        cpus=self.cpus)

    def _start_slurm(self):
        self._daemon(["/usr/sbin/slurmctld"], "slurmctld")
        self._daemon(["/usr/sbin/slurmd", "-N", "localhost"], "slurmd")

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

    def all_idle(self):
        """Every node of the partition is idle (`sinfo -N`: one line per node)."""
        p = subprocess.run(self.client(["sinfo", "-h", "-N", "-o", "%T"]), env=self.env,
                           capture_output=True, text=True, timeout=30)
        states = p.stdout.split()
        return len(states) == len(self.hosts()) and all(s == "idle" for s in states)

    def hosts(self):
        """The node names, as Slurm and the ranks' host names give them."""
        return ["localhost"]

    def client(self, argv):
        """The command line that runs argv where it reaches slurmctld."""
        return list(argv)

    def stop(self):
        """Cancel every job, stop the daemons and leftovers, remove the directory."""
        if self.top is None:
            return
        if self._watchdog is not None:
            pid = _read_pid(self._watchdog)
            if pid is not None and _alive(pid):
                _kill_and_wait([pid], signal.SIGKILL, 5)
            self._watchdog = None
        if self.conf is not None and self.env is not None:
            try:
                subprocess.run(self.client(["scancel", "--user=root"]), env=self.env,
                               capture_output=True, timeout=30)
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
        for path in (sorted(glob.glob(os.path.join(self.top, "log", "*.log"))) +
                     [os.path.join(self.top, "munge", "munged.log")]):
            try:
                with open(path, errors="replace") as f:
                    out.append("--- %s\n%s" % (os.path.relpath(path, self.top),
                                               "".join(f.readlines()[-30:])))
            except OSError:
                pass
        return "\n".join(out)

    # ---------------------------------------------------------------- jobs

    def cmd(self, args, env=None, check=True):
        """Run a Slurm client command against this cluster; return stdout."""
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run(self.client(args), env=e, capture_output=True, text=True,
                           timeout=60)
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
        """Release a held, requeued job and let it start now.

        Slurm itself would make a requeued job wait cred_expire (ten seconds
        here) before it starts again, and StartTime=now skips that wait; so
        this waits for what that wait is there for. First every node must be
        idle: the first run's steps have ended everywhere. Then the clock must
        pass a whole second: slurmd revoked the first launch's credential at a
        time stamp in whole seconds, and it refuses a new credential for the
        job created in that same second ("Job credential revoked"; the rerun
        FAILED so in about one of fifteen two-node runs, and once in CI)."""
        self.wait_for(self.all_idle, JOB_TIMEOUT, "every node idle before releasing job %s" % jobid)
        time.sleep(math.floor(time.time()) + 1.2 - time.time())
        self.cmd(["scontrol", "release", str(jobid)])
        self.cmd(["scontrol", "update", "jobid=%s" % jobid, "StartTime=now"], check=False)

    def cancel(self, jobid):
        self.cmd(["scancel", str(jobid)], check=False)


class MultiNodeSlurm(Slurm):
    """A private cluster of `nodes` nodes on this machine, each claiming
    `cpus` CPUs (see the module docstring)."""

    _made = 0  # clusters made by this process: part of their namespaces' names

    def __init__(self, nodes=2, cpus=2):
        super().__init__(cpus=cpus)
        self.names = ["node%d" % (k + 1) for k in range(nodes)]
        MultiNodeSlurm._made += 1
        self.tag = "%s%d-%d" % (NETNS_PREFIX, os.getpid(), MultiNodeSlurm._made)

    def netns(self, node):
        """The network namespace of a node ('head' for slurmctld's)."""
        return "%s-%s" % (self.tag, node)

    def addr(self, node):
        return "%s.%d" % (SUBNET, HEAD_HOST if node == "head" else self.names.index(node) + 1)

    def hosts(self):
        return list(self.names)

    def client(self, argv):
        return ["nsenter", "--net=/run/netns/" + self.netns("head")] + list(argv)

    def _commands(self):
        return super()._commands() + ("ip", "nsenter", "unshare", "mount")

    def _start(self):
        _remove_stale_netns()
        super()._start()
        # Each node claims more CPUs than the machine has cores to spare, so
        # its ranks share cores. Under srun Open MPI cannot know that, and a
        # rank waiting for a message over TCP spins on its core until the
        # scheduler preempts it, starving the rank that would send it (a step
        # took about 100 times longer). Yielding while idle is what mpirun
        # does by itself when it oversubscribes. Jobs get it from sbatch,
        # which exports the submitting environment.
        self.env["OMPI_MCA_mpi_yield_when_idle"] = "1"

    def _conf_nodes(self):
        # In namespaces of their own the daemons cannot clash on ports:
        # Slurm's defaults. %n: each slurmd's own spool, pid and log file.
        lines = ["SlurmctldHost=head(%s)" % self.addr("head"),
                 "SlurmctldPort=6817", "SlurmdPort=6818",
                 "SlurmdSpoolDir=%s/spool/%%n" % self.top,
                 "SlurmdPidFile=%s/run/slurmd-%%n.pid" % self.top,
                 "SlurmdLogFile=%s/log/slurmd-%%n.log" % self.top]
        lines += ["NodeName=%s NodeAddr=%s CPUs=%d State=UNKNOWN" % (n, self.addr(n), self.cpus)
                  for n in self.names]
        lines.append("PartitionName=debug Nodes=%s Default=YES MaxTime=INFINITE State=UP"
                     % ",".join(self.names))
        return "\n".join(lines) + "\n"

    def _new_netns(self, node):
        """Create a node's namespace, recorded first so that a stop (or the
        watchdog) removes it even if this start fails halfway."""
        name = self.netns(node)
        with open(os.path.join(self.top, "run", "netns"), "a") as f:
            f.write(name + "\n")
        _ip(["netns", "add", name])
        _ip(["-n", name, "link", "set", "lo", "up"])
        return name

    def _start_slurm(self):
        # The network: a bridge in the head namespace, a veth pair from it
        # into each node's namespace (eth0 there).
        head = self._new_netns("head")
        _ip(["-n", head, "link", "add", "br0", "type", "bridge"])
        _ip(["-n", head, "addr", "add", self.addr("head") + "/24", "dev", "br0"])
        _ip(["-n", head, "link", "set", "br0", "up"])
        for k, node in enumerate(self.names):
            ns = self._new_netns(node)
            veth = "v%d" % (k + 1)
            _ip(["-n", head, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
                 "netns", ns])
            _ip(["-n", head, "link", "set", veth, "master", "br0"])
            _ip(["-n", head, "link", "set", veth, "up"])
            _ip(["-n", ns, "addr", "add", self.addr(node) + "/24", "dev", "eth0"])
            _ip(["-n", ns, "link", "set", "eth0", "up"])
        # The daemons: each in its network namespace (nsenter keeps the
        # machine's /sys, whose cgroup mount slurmd checks; `ip netns exec`
        # would remount /sys), with a host name of its own (unshare --uts).
        self._daemon(["nsenter", "--net=/run/netns/" + head, "unshare", "--uts", "sh", "-c",
                      "hostname head && exec /usr/sbin/slurmctld"], "slurmctld")
        for node in self.names:
            local = os.path.join(self.top, "nodes", node)
            os.makedirs(os.path.join(local, "tmp"))
            os.makedirs(os.path.join(self.top, "spool", node))
            # Node-local storage in a mount namespace of its own: TmpFS
            # (PMIx's per-step directories, named alike on every node) and
            # /dev/shm (Open MPI's shared-memory segments).
            script = ("hostname {node} && mount --bind {local} {tmp} && "
                      "mount -t tmpfs -o mode=1777 otd-shm /dev/shm && "
                      "exec /usr/sbin/slurmd -N {node}").format(
                node=node, local=shlex.quote(os.path.join(local, "tmp")),
                tmp=shlex.quote(os.path.join(self.top, "tmp")))
            self._daemon(["nsenter", "--net=/run/netns/" + self.netns(node), "unshare", "--uts",
                          "--mount", "--propagation", "private", "sh", "-c", script],
                         "slurmd " + node)

    def processes(self, node, comm=None):
        """Pids of the processes on a node (in its network namespace),
        those named comm if given."""
        return [p for p in netns_pids(self.netns(node)) if comm is None or _comm(p) == comm]

    def process_names(self, node):
        """The names of the processes on a node, sorted."""
        return sorted(_comm(p) for p in netns_pids(self.netns(node)) if _alive(p))

    def rank_connections(self, node, comm="otd"):
        """TCP connections of the processes named comm on a node, as
        (local address, remote address) strings 'a.b.c.d:port', read from
        /proc (established ones only)."""
        out = []
        for pid in self.processes(node, comm):
            inodes = set()
            try:
                for fd in os.listdir("/proc/%d/fd" % pid):
                    link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
                with open("/proc/%d/net/tcp" % pid) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                col = row.split()
                if col[3] == "01" and col[9] in inodes:  # ESTABLISHED, this process's
                    out.append((_ipv4(col[1]), _ipv4(col[2])))
        return out


def _ipv4(hexaddr):
    """'0100A8C0:1F90' (/proc/net/tcp) -> '192.168.0.1:8080'."""
    a, port = hexaddr.split(":")
    return "%s:%d" % (".".join(str(int(a[i:i + 2], 16)) for i in (6, 4, 2, 0)), int(port, 16))


# A step budget no test run reaches (the run ends by a signal), and how
# otd says where it stopped.
ENDLESS = 2000000000
CHECKPOINTED = re.compile(r"checkpointed at iteration (\d+)")


class SlurmCase(TmpTestCase):
    """A test case against the cluster of its test file: setUpModule starts
    it and sets SlurmCase.cluster. Cancels the jobs a test submitted (listed
    in self.jobs) when it ends, passed or failed."""

    cluster = None

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)
        if SlurmCase.cluster is None:
            raise AssertionError("no cluster: setUpModule must start one")
        self.slurm = SlurmCase.cluster
        self.jobs = []

    def tearDown(self):
        for j in self.jobs:  # a failed test leaves no job running
            self.slurm.cancel(j)
        super().tearDown()

    def write(self, name, text):
        path = self.out(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def slurp(self, path):
        with open(path) as f:
            return f.read()

    def status_lines(self, path):
        return [line.split() for line in self.slurp(path).splitlines()]

    def run_one(self, config, rundir, log, ntasks=2, env=None, sbatch=()):
        """sbatch -n NTASKS [SBATCH...] run_one.sbatch CONFIG RUNDIR, from the test dir."""
        e = {"OTD_BIN": OTD, "OTD_JOBS_DIR": JOBS}
        e.update(env or {})
        job = self.slurm.submit(["-n", str(ntasks)] + list(sbatch) +
                                ["-D", self.tmp, "-o", log, RUN_ONE, config, rundir], env=e)
        self.jobs.append(job)
        return job

    def wait_checkpoint(self, rundir, job, log, after=-1):
        """Wait until the run has committed a checkpoint of an iteration
        beyond `after`: otd is running with its signal handlers installed.
        Returns the newest checkpoint's iteration."""
        ck = os.path.join(rundir, "checkpoints")

        def ready():
            if self.slurm.job(job)["JobState"] in ("FAILED", "COMPLETED", "CANCELLED"):
                raise AssertionError("job ended early:\n" + self.slurp(log))
            return checkpoint_iters(rundir) and checkpoint_iters(rundir)[-1] > after
        self.slurm.wait_for(ready, JOB_TIMEOUT, "a checkpoint in " + ck)
        return checkpoint_iters(rundir)[-1]

    def assertSameRun(self, got, ref):
        """Final W and every history column but wall_time bitwise equal."""
        a, b = read(got), read(ref)
        self.assertTrue((a["final/W"] == b["final/W"]).all(), "final W differs")
        self.assertEqual(sorted(a["history"]), sorted(b["history"]))
        for k in a["history"]:
            if k == "wall_time":
                continue
            self.assertEqual(a["history"][k].shape, b["history"][k].shape, k)
            self.assertTrue((a["history"][k] == b["history"][k]).all(), "history/%s differs" % k)
        self.assertEqual(a["summary"]["iters"], b["summary"]["iters"])

    def reference(self, config, name="ref", nranks=2):
        """The same config run directly on this host: mpirun -n NRANKS otd run."""
        ref = self.out(name)
        self.assertOk(run(["run", config, "--out", ref], nranks=nranks))
        return os.path.join(ref, "results.h5")

    # `otd sweep --submit` and its directory

    def otd(self, args, ok=True, cwd=None, jobs=None):
        """otd ARGS where the cluster's clients run (OTD_JOBS_DIR=jobs)."""
        p = run_command(self.slurm.client([OTD] + list(args)),
                        env=dict(self.slurm.env, OTD_JOBS_DIR=jobs or JOBS), timeout=600,
                        cwd=cwd)
        if ok:
            self.assertEqual(p.returncode, 0, "otd %s: %s%s" % (" ".join(args), p.stdout,
                                                               p.stderr))
        return p

    def submitted(self, d):
        """(job id, script) of DIR/submissions.txt, oldest first."""
        return [tuple(line.split()[1:3]) for line in
                self.slurp(os.path.join(d, "submissions.txt")).splitlines()]

    def wait_all(self, d):
        recs = []
        for job, _ in self.submitted(d):
            self.jobs.append(job)
        for job, _ in self.submitted(d):
            recs += self.slurm.wait_job(job)
        return recs

    def requeue_on_warning(self, d, job, log, long_rows, ndone):
        """The warning signal to the one job of the packed sweep in d, whose
        long_rows run ENDLESS points that have checkpointed: the job is held,
        USR1 goes to its batch shell; every group checkpoints its point and
        records 75, the job records 75 and requeues. Each long point's budget
        is then set 2000 steps beyond its checkpoint and the job released: it
        completes after one restart with ndone points done, each long one
        resumed where it stopped and ended at its new budget. Returns the
        job's record and {point name: final iteration}."""
        self.slurm.hold(job)
        self.slurm.signal_batch(job, "USR1")
        self.slurm.wait_state(job, lambda r: r["Restarts"] == 1 and r["JobState"] == "PENDING",
                              what="requeued and pending")
        text = self.slurp(log)
        self.assertIn("received SIGUSR1", text)
        self.assertIn("requeueing job %s" % job, text)
        job_exit = os.path.join(d, "jobs", "job-1-0.exit")
        self.assertEqual([s[1] for s in self.status_lines(job_exit)], ["75"])
        final = {}
        for r in long_rows:
            m = CHECKPOINTED.search(self.slurp(os.path.join(d, "logs",
                                                            "run-%s.out" % r["name"])))
            self.assertIsNotNone(m, r["name"])
            final[r["name"]] = int(m.group(1)) + 2000
            self.assertEqual([s[1] for s in self.status_lines(
                os.path.join(d, "tasks", r["name"] + ".exit"))], ["75"])
            cfg = os.path.join(d, r["config"])
            text = self.slurp(cfg)
            self.assertIn("max_iters: %d\n" % ENDLESS, text)
            with open(cfg, "w") as f:
                f.write(text.replace("max_iters: %d\n" % ENDLESS,
                                     "max_iters: %d\n" % final[r["name"]]))
        self.slurm.release(job)
        rec = self.slurm.wait_job(job)[0]
        text = self.slurp(log)
        self.assertEqual(rec["JobState"], "COMPLETED", text + self.slurm.logs())
        self.assertEqual(rec["Restarts"], 1)
        self.assertIn("SLURM_RESTART_COUNT=1", text)
        self.assertEqual([s[1] for s in self.status_lines(job_exit)], ["75", "0"])
        self.assertIn("%d done" % ndone, self.otd(["collect", d]).stdout)
        for r in long_rows:
            self.assertRegex(self.slurp(os.path.join(d, "logs", "run-%s.out" % r["name"])),
                             r"resuming at iteration %d" % (final[r["name"]] - 2000))
            self.assertEqual([s[1] for s in self.status_lines(
                os.path.join(d, "tasks", r["name"] + ".exit"))], ["75", "0"])
            got = os.path.join(d, r["rundir"], "results.h5")
            self.assertEqual(read(got)["summary"]["iters"], final[r["name"]])
        return rec, final

    def manifest(self, d):
        with open(os.path.join(d, "manifest.tsv")) as f:
            hdr = f.readline().rstrip("\n").split("\t")
            return [dict(zip(hdr, line.rstrip("\n").split("\t"))) for line in f]


def checkpoint_iters(rundir):
    """Iterations of the committed checkpoints in rundir/checkpoints, ascending."""
    try:
        names = os.listdir(os.path.join(rundir, "checkpoints"))
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in (re.match(r"^ckpt-(\d+)\.h5$", n) for n in names)
                  if m)
