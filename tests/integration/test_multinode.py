"""otd across nodes, for real: a two-node Slurm cluster on this machine
(slurmtest.MultiNodeSlurm, one for this whole file): node1 and node2 are
network namespaces with their own host names, their own addresses on a
private subnet and their own slurmd; slurmctld runs in a third. Ranks that
srun --mpi=pmix starts on different nodes talk over TCP on that subnet; the
nodes share only the file system. Each node claims 2 CPUs, so a 4-task job
spans both (2 + 2).

What is checked:
  - `otd run` with 4 ranks over 2 nodes (run_one.sbatch), implicit and
    dense engines: /provenance/hosts is "node1,node2" (the single-node
    reference's is this machine's name), and the final W and every history
    column but wall_time agree to 1e-12 with `mpirun -n 4 otd run` of the
    same config on this host. The dense run uses the MCA settings
    docs/platform.md gives for nodes with several interfaces (btl
    self,vader,tcp, btl_tcp_if_include = the subnet), the implicit runs
    none: once through srun --mpi=pmix, once through OTD_LAUNCH=mpirun.
  - A checkpoint written by ranks on both nodes, then kill -9 of the step's
    ranks on node2 while they hold TCP connections to node1's address: the
    whole step ends (srun --wait=10, the launcher task.sh uses: the ranks
    on node1 would otherwise wait for their peers until the time limit),
    nothing of the job is left on either node, and the job fails without
    requeueing. Resubmitted on another layout, 3 ranks (2 on node1, 1 on
    node2), the run resumes from the newest checkpoint, says so, records
    the resume (/provenance/resumes: that iteration, 3 ranks, both hosts)
    and ends agreeing to 1e-12 with an uninterrupted 4-rank run, one
    history row per logged iteration.
  - `otd sweep --submit --nodes 2 --ntasks 4`: one job over both nodes
    whose two 2-rank groups (one per node) take the points, through
    counters kept in files in the sweep directory (the ranks span nodes;
    otd says so, and removes them after the job): each node
    finished some (the host in tasks/<name>.exit, and each point's
    /provenance/hosts is that one node), a point on node1 and a point on
    node2 ran at the same time (their /provenance start and end times
    overlap, strictly, at the clock's one-second resolution: an ordering,
    not a speed bound), and every result is bitwise equal to `otd run` of
    the point at 2 ranks.
  - The warning signal to a two-node packed job whose four 1-rank groups
    (two per node, as their run directories' .lock files say) each run an
    endless point: every group checkpoints its point and records 75, the
    job exits 75, requeues itself, resumes every point from its checkpoint
    and runs the rest; all results bitwise equal to `otd run`.

Nothing depends on speed; every wait is bounded by a generous timeout that
fails the test. Endless runs (max_iters 2e9, target_rel_err 0) end only
through a kill or a signal; their configs are then given a budget a little
beyond their checkpoint (a key otd allows to change on resume)."""
import calendar
import os
import socket
import time
import unittest

import h5py
import numpy as np

from otdtest import OTD, read
from slurmtest import (CHECKPOINTED, ENDLESS, SUBNET, MultiNodeSlurm, SlurmCase,
                       checkpoint_iters)

NODES = ["node1", "node2"]


def setUpModule():
    # Fails (never skips) with the reason when the cluster cannot be started.
    SlurmCase.cluster = MultiNodeSlurm(nodes=2, cpus=2).start()


def tearDownModule():
    if SlurmCase.cluster is not None:
        SlurmCase.cluster.stop()


def config_text(lines):
    return "".join("%s: %s\n" % kv for kv in lines)


def provenance(rundir):
    """/provenance attributes (str) and /provenance/resumes rows."""
    with h5py.File(os.path.join(rundir, "results.h5"), "r") as f:
        g = f["provenance"]
        attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in g.attrs.items()}
        resumes = [{"iteration": int(r["iteration"]), "nranks": int(r["nranks"]),
                    "hosts": r["hosts"].decode()} for r in g["resumes"][()]] \
            if "resumes" in g else []
    return attrs, resumes


def utc_seconds(stamp):
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


class MultiNodeCase(SlurmCase):

    def assertAgrees(self, got, ref, what):
        """Final W and every history column but wall_time equal to 1e-12
        of their scale; the same iterations logged."""
        a, b = read(got), read(ref)
        scale = np.max(np.abs(b["final/W"]))
        diff = np.max(np.abs(a["final/W"] - b["final/W"])) / scale
        self.assertLessEqual(diff, 1e-12, "%s: final W differs by %g" % (what, diff))
        self.assertGreater(np.max(np.abs(a["final/W"] - a["init/W"])), 1e-3,
                           "%s: the run did not move W" % what)
        self.assertEqual(sorted(a["history"]), sorted(b["history"]))
        np.testing.assert_array_equal(a["history"]["iter"], b["history"]["iter"],
                                      err_msg="%s: history rows" % what)
        for k, col in b["history"].items():
            if k == "wall_time":
                continue
            np.testing.assert_allclose(a["history"][k], col, rtol=1e-12,
                                       atol=1e-12 * np.nanmax(np.abs(col)), equal_nan=True,
                                       err_msg="%s: history/%s" % (what, k))
        self.assertEqual(a["summary"]["iters"], b["summary"]["iters"])
        return a

    def assertNothingLeft(self):
        """No process of a job on any node (only its slurmd), once those
        that are exiting are gone."""
        def left():
            return {n: self.slurm.process_names(n) for n in NODES}
        want = {n: ["slurmd"] for n in NODES}
        try:
            self.slurm.wait_for(lambda: left() == want, 30, "the nodes to be empty")
        except AssertionError:
            pass
        self.assertEqual(left(), want)


class TestRunAcrossNodes(MultiNodeCase):

    def check_run(self, name, cfg_lines, env=None):
        cfg = self.write(name + ".yaml", config_text(cfg_lines))
        rundir, log = self.out(name), self.out(name + ".log")
        job = self.run_one(cfg, rundir, log, ntasks=4, sbatch=["-N", "2"], env=env)
        rec = self.slurm.wait_job(job)[0]
        text = self.slurp(log)
        self.assertEqual((rec["JobState"], rec["ExitCode"]), ("COMPLETED", "0:0"), text)
        self.assertEqual(rec["NodeList"], "node[1-2]", rec)
        self.assertIn("P = 4 ranks", text)
        attrs, _ = provenance(rundir)
        self.assertEqual(attrs["hosts"], "node1,node2")
        self.assertEqual(attrs["slurm_job_id"], job)
        ref = self.reference(cfg, "ref-" + name, nranks=4)
        self.assertEqual(provenance(os.path.dirname(ref))[0]["hosts"], socket.gethostname())
        res = self.assertAgrees(os.path.join(rundir, "results.h5"), ref, name)
        self.assertEqual(int(res["attrs"]["nranks"]), 4)
        return text

    IMPLICIT = [("algo.name", "bl"), ("problem.dim", 10), ("model.m", 12),
                ("algo.max_iters", 2000), ("algo.target_rel_err", 0), ("algo.epoch_len", 500),
                ("run.log_every", 50)]

    def test_implicit_4_ranks_on_2_nodes(self):
        text = self.check_run("implicit", self.IMPLICIT)
        self.assertIn("srun --mpi=pmix --wait=10 " + OTD, text)

    def test_implicit_through_mpirun(self):
        # The documented other launcher: mpirun reads the allocation and
        # starts its daemon on node2 through Slurm; they talk over TCP too.
        text = self.check_run("mpirun", self.IMPLICIT, env={"OTD_LAUNCH": "mpirun"})
        self.assertIn("otd task: mpirun " + OTD, text)

    def test_dense_4_ranks_on_2_nodes_with_tcp_settings(self):
        text = self.check_run(
            "dense", [("engine", "dense"), ("algo.name", "gd"), ("model.init_scale", 1),
                      ("problem.dim", 12), ("model.m", 8), ("algo.max_iters", 1000),
                      ("algo.target_rel_err", 0), ("run.log_every", 50)],
            env={"OMPI_MCA_btl": "self,vader,tcp",
                 "OMPI_MCA_btl_tcp_if_include": SUBNET + ".0/24"})
        self.assertIn("dense: mode-1 slices", text)
        self.assertIn("srun --mpi=pmix --wait=10 " + OTD, text)


class TestKillAndResume(MultiNodeCase):

    def test_kill_on_one_node_then_resume_on_another_layout(self):
        lines = [("algo.name", "gd"), ("model.init_scale", 1), ("algo.target_rel_err", 0),
                 ("algo.max_iters", ENDLESS), ("run.checkpoint_every", 2000),
                 ("run.log_every", 100), ("run.progress_seconds", 1)]
        cfg = self.write("c.yaml", config_text(lines))
        rundir, log = self.out("r"), self.out("first.log")
        job = self.run_one(cfg, rundir, log, ntasks=4, sbatch=["-N", "2"])
        # A checkpoint beyond iteration 0, written by the ranks on both nodes.
        self.wait_checkpoint(rundir, job, log, after=0)
        ranks = self.slurm.processes("node2", "otd")
        self.assertEqual(len(ranks), 2, "ranks on node2: %s" % ranks)
        # They talk to node1's ranks over TCP on the subnet.
        conns = self.slurm.rank_connections("node2")
        self.assertTrue(any(r.startswith(self.slurm.addr("node1") + ":") for _, r in conns),
                        "no TCP connection from node2's ranks to node1: %s" % conns)
        for pid in ranks:
            os.kill(pid, 9)
        rec = self.slurm.wait_job(job)[0]
        text = self.slurp(log)
        self.assertEqual(rec["JobState"], "FAILED", text)
        self.assertEqual(rec["Restarts"], 0, text)
        self.assertRegex(text, r"node2: tasks? 2-3: Killed")
        self.assertIn("First task exited 10s ago", text)  # srun --wait=10 ended the step
        st = self.status_lines(os.path.join(rundir, "task.exit"))
        self.assertEqual(len(st), 1, st)
        self.assertNotIn(st[0][1], ("0", "75"), st)
        self.assertNotIn("requeueing", text)
        self.assertNothingLeft()

        # Resume on 3 ranks, 2 on node1 and 1 on node2, with a budget a
        # little beyond the newest checkpoint.
        newest = checkpoint_iters(rundir)[-1]
        self.assertGreater(newest, 0)
        final = newest + 3000
        self.write("c.yaml", config_text(lines).replace("max_iters: %d" % ENDLESS,
                                                        "max_iters: %d" % final))
        log2 = self.out("resume.log")
        job2 = self.run_one(cfg, rundir, log2, ntasks=3, sbatch=["-N", "2"])
        rec = self.slurm.wait_job(job2)[0]
        text = self.slurp(log2)
        self.assertEqual((rec["JobState"], rec["ExitCode"]), ("COMPLETED", "0:0"), text)
        self.assertIn("P = 3 ranks", text)
        self.assertIn("resuming at iteration %d" % newest, text)
        attrs, resumes = provenance(rundir)
        self.assertEqual(attrs["hosts"], "node1,node2")
        self.assertEqual(resumes[-1], {"iteration": newest, "nranks": 3, "hosts": "node1,node2"})
        got = os.path.join(rundir, "results.h5")
        res = self.assertAgrees(got, self.reference(cfg, nranks=4), "resumed at P = 3")
        self.assertEqual(int(res["summary"]["iters"]), final)
        self.assertEqual(len(res["history"]["iter"]), final // 100 + 1)
        self.assertNothingLeft()


# Six points of 2 ranks (one group per node in a 4-task job), each long
# enough that the two groups' points overlap by more than a second.
SWEEP = """name: multinode
set:
  algo.name: gd
  model.init_scale: 1
  problem.dim: 8
  algo.target_rel_err: 0
  algo.max_iters: %d
  run.log_every: 10000
grid:
  model.m: [6, 12]
  run.seed: [0, 1, 2]
ranks: 2
"""
SWEEP_ITERS = 400000


class TestSweepAcrossNodes(MultiNodeCase):

    def test_groups_on_both_nodes_at_once(self):
        spec = self.write("sweep.yaml", SWEEP % SWEEP_ITERS)
        d = self.out("sw")
        p = self.otd(["sweep", spec, "--out", d, "--submit", "--nodes", "2", "--ntasks", "4",
                      "--jobs", "1"])
        self.assertIn("slurm: 6 points in 1 job of 2 nodes, 4 tasks", p.stdout)
        (job, _), = self.submitted(d)
        rec, = self.wait_all(d)
        log = self.slurp(os.path.join(d, "jobs", "job-1-0.out"))
        self.assertEqual((rec["JobState"], rec["NodeList"]), ("COMPLETED", "node[1-2]"), log)
        self.assertIn("srun --mpi=pmix", log)
        self.assertIn("sweep-run: the groups take points through counter files in "
                      "%s/counters/" % d, log)
        self.assertFalse(os.path.exists(os.path.join(d, "counters")))
        self.assertIn("6 done", self.otd(["collect", d]).stdout)
        rows = self.manifest(d)
        per_node, spans = {n: 0 for n in NODES}, {n: [] for n in NODES}
        for r in rows:
            (t, code, host, jid), = self.status_lines(os.path.join(d, "tasks",
                                                                   r["name"] + ".exit"))
            self.assertEqual((code, jid), ("0", job), r["name"])
            attrs, _ = provenance(os.path.join(d, r["rundir"]))
            self.assertEqual(attrs["hosts"], host, r["name"])  # a group on one node
            per_node[host] += 1
            spans[host].append((utc_seconds(attrs["started_utc"]),
                                utc_seconds(attrs["finished_utc"]), r["name"]))
        print("multinode sweep: points finished per node: %s" %
              ", ".join("%s %d" % kv for kv in sorted(per_node.items())))
        self.assertEqual(sum(per_node.values()), 6)
        for n in NODES:
            self.assertGreater(per_node[n], 0, "no point finished on %s: %s" % (n, per_node))
        # At the same time: a point on node1 and one on node2 whose
        # intervals overlap (each started before the other ended).
        overlap = [(a[2], b[2]) for a in spans["node1"] for b in spans["node2"]
                   if a[0] < b[1] and b[0] < a[1]]
        self.assertTrue(overlap, "no overlapping points on node1 and node2: %s" % spans)
        for r in rows:
            self.assertSameRun(os.path.join(d, r["rundir"], "results.h5"),
                               self.reference(os.path.join(d, r["config"]), "ref-" + r["name"],
                                              nranks=2))


class TestSignalAcrossNodes(MultiNodeCase):

    def test_warning_signal_to_two_node_job(self):
        # Four endless points (gflops makes their estimate small enough to
        # share one job) and four small ones; 1 rank each: four groups.
        spec = self.write("sweep.yaml", (SWEEP % 2000).replace("ranks: 2\n", "").replace(
            "run.seed: [0, 1, 2]", "run.seed: [0, 1]") +
            "points:\n" + "".join("  - {model.m: 6, run.seed: %d, algo.max_iters: %d}\n"
                                  % (100 + k, ENDLESS) for k in range(4)) + "gflops: 1000\n")
        d = self.out("sw")
        p = self.otd(["sweep", spec, "--out", d, "--submit", "--nodes", "2", "--ntasks", "4",
                      "--jobs", "1"])
        self.assertIn("slurm: 8 points in 1 job of 2 nodes, 4 tasks", p.stdout)
        (job, _), = self.submitted(d)
        self.jobs.append(job)
        log = os.path.join(d, "jobs", "job-1-0.out")
        rows = self.manifest(d)
        long_rows = [r for r in rows if int(r["run.seed"]) >= 100]
        self.assertEqual(len(long_rows), 4)
        hosts = []
        for r in long_rows:
            rundir = os.path.join(d, r["rundir"])
            self.wait_checkpoint(rundir, job, log)
            hosts.append(self.slurp(os.path.join(rundir, ".lock")).split()[3])
        self.assertEqual(sorted(hosts), ["node1", "node1", "node2", "node2"])
        rec, _ = self.requeue_on_warning(d, job, log, long_rows, ndone=8)
        self.assertEqual(rec["NodeList"], "node[1-2]")
        for r in rows:
            self.assertSameRun(os.path.join(d, r["rundir"], "results.h5"),
                               self.reference(os.path.join(d, r["config"]),
                                              "ref-" + r["name"], nranks=1))
        self.assertNothingLeft()


if __name__ == "__main__":
    unittest.main()
