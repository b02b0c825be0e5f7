#!/usr/bin/env python3
"""The benchmark scripts as a newcomer meets them: bad arguments end with one error line and
a usage hint (exit 2), never a traceback; no script overwrites a file the user did not name as
its output; a trial run leaves the committed results (bench/RESULTS.md, TSV, PNGs) alone.
gnuplot may be absent, so the refusal paths are tested, not the PNGs. Run by ctest as
`bench_scripts` (BATCHPROP_CLI names the executable); standard library only."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BENCH = os.path.join(REPO, "bench")
CLI = os.path.abspath(os.environ.get("BATCHPROP_CLI", os.path.join(REPO, "build", "batchprop")))
DATA = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300, **kw)


def py(script, *args, **kw):
    return run([sys.executable, os.path.join(BENCH, script), *args], **kw)


def snapshot():
    """Hashes of every committed result file under bench/."""
    out = {}
    for root, _, names in os.walk(BENCH):
        for n in names:
            if n.endswith((".md", ".tsv", ".png")):
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    out[p] = hashlib.sha256(f.read()).hexdigest()
    return out


class ScriptTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bp_scripts")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def expect_error(self, r, code, *needles):
        """Exit status `code`, one 'error:' line naming the problem, no traceback."""
        what = f"stdout: {r.stdout}\nstderr: {r.stderr}"
        self.assertEqual(r.returncode, code, what)
        self.assertNotIn("Traceback", r.stderr, what)
        errors = [l for l in r.stderr.splitlines() if "error:" in l]
        self.assertEqual(len(errors), 1, what)
        for n in needles:
            self.assertIn(n, errors[0], what)


class PlotMetrics(ScriptTest):
    SCRIPT = os.path.join(BENCH, "plot_metrics.sh")

    def plot(self, *args):
        return run(["bash", self.SCRIPT, *args], cwd=self.tmp)

    def setUp(self):
        super().setUp()
        line = {"epoch": 1, "eval_accuracy": 0.5, "eval_cost": 0.3, "train_accuracy": None, "train_cost": None,
                "sizes": [4, 6, 3], "eta": 3.0, "lambda": 0.0, "batch": 10}
        self.a = self.write("a.jsonl", json.dumps(line) + "\n")
        self.b = self.write("b.jsonl", json.dumps(line) + "\n")
        self.b_text = open(self.b).read()

    def test_forgotten_output_name_leaves_the_last_input_alone(self):
        r = self.plot(self.a, self.b)
        self.expect_error(r, 2, "must end in .png", "b.jsonl")
        self.assertIn("usage:", r.stderr)
        self.assertEqual(open(self.b).read(), self.b_text)

    def test_output_in_a_missing_directory_is_refused_before_gnuplot(self):
        r = self.plot(self.a, "/nonexistent/x.png")
        self.expect_error(r, 1, "/nonexistent", "does not exist")
        self.assertEqual(r.stdout, "")  # no PNG bytes on the terminal

    def test_a_model_file_is_named_as_such(self):
        model = self.write("net.json", json.dumps({"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]],
                                                   "cost": "QuadraticCost"}))
        self.expect_error(self.plot(model, self.path("x.png")), 1, "net.json is a model file, not metrics")
        self.assertFalse(os.path.exists(self.path("x.png")))

    def test_other_bad_inputs(self):
        self.expect_error(self.plot(self.write("junk.jsonl", "hello\n"), self.path("x.png")), 1, "line 1 is not JSON")
        self.expect_error(self.plot(self.write("empty.jsonl", ""), self.path("x.png")), 1, "no epochs")
        self.expect_error(self.plot(self.path("missing.jsonl"), self.path("x.png")), 1, "cannot read")
        self.expect_error(self.plot(self.tmp, self.path("x.png")), 1, "is a directory")
        self.expect_error(self.plot(self.a), 2, "need at least one metrics file")
        self.expect_error(self.plot(), 2)
        self.expect_error(self.plot("--out", "x.png", self.a), 2, "unknown option '--out'")
        self.expect_error(self.plot(self.a, self.a + ".png", self.a + ".png"), 2, "also an input")

    def test_an_existing_file_that_is_not_a_png_is_never_replaced(self):
        precious = self.write("notes.png", "my notes, misnamed")
        self.expect_error(self.plot(self.a, precious), 1, "not a PNG")
        self.assertEqual(open(precious).read(), "my notes, misnamed")

    def test_help(self):
        r = self.plot("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("usage:", r.stdout)

    @unittest.skipIf(shutil.which("gnuplot"), "gnuplot is installed: the plot is drawn instead")
    def test_without_gnuplot_nothing_is_written(self):
        self.expect_error(self.plot(self.a, self.path("x.png")), 1, "gnuplot not found")
        self.assertFalse(os.path.exists(self.path("x.png")))

    @unittest.skipUnless(shutil.which("gnuplot"), "gnuplot is not installed")
    def test_with_gnuplot_a_png_is_written(self):
        r = self.plot(self.a, self.b, self.path("x.png"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("x.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


class Speedup(ScriptTest):
    def speedup(self, *args):
        return py("speedup.py", "--cli", CLI, *args, cwd=self.tmp)

    def test_bad_arguments_are_one_line_and_a_usage_hint(self):
        for args, needles in [
            (["--batches", "10,abc"], ["--batches", "'abc' is not a whole number"]),
            (["--batches", "0"], ["--batches", "0 is not >= 1"]),
            (["--devices", "gpu"], ["--devices", "'gpu' is not one of auto, cpu, cuda"]),
            (["--epochs", "1.5"], ["--epochs", "'1.5' is not a whole number"]),
            (["--sizes", "784"], ["--sizes", "at least two"]),
            (["--out-dir", "/nonexistent/dir"], ["--out-dir", "/nonexistent does not exist"]),
            (["--save-results", "--no-results"], ["contradict"]),
            (["--bogus"], ["unrecognized arguments: --bogus"]),
        ]:
            with self.subTest(args=args):
                r = self.speedup(*args)
                self.expect_error(r, 2, *needles)
                self.assertIn("usage:", r.stderr)

    def test_cuda_without_a_gpu_is_refused_before_running(self):
        info = run([CLI, "info"]).stdout
        if "GPU 0:" in info:
            self.skipTest("a GPU is usable here")
        self.expect_error(self.speedup("--devices", "cuda"), 2, "--devices cuda: no usable GPU")

    def test_replot_arguments(self):
        tsv = os.path.join(BENCH, "speedup.tsv")
        self.expect_error(self.speedup("--replot", tsv), 2, "--replot needs --out-dir DIR or --save-results")
        self.expect_error(self.speedup("--replot", self.path("none.tsv"), "--out-dir", self.tmp), 2, "cannot read")
        self.expect_error(self.speedup("--replot", self.write("bad.tsv", "cpu\tx\n"), "--out-dir", self.tmp), 2,
                          "line 1")

    @unittest.skipUnless(shutil.which("gnuplot"), "gnuplot is not installed")
    def test_replot_draws_from_the_tsv_alone(self):
        before = snapshot()
        r = self.speedup("--replot", os.path.join(BENCH, "speedup.tsv"), "--out-dir", self.path("sp"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("sp/speedup.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertEqual(snapshot(), before)

    def test_missing_cli(self):
        self.expect_error(py("speedup.py", "--cli", self.path("nope")), 2, "is not an executable")

    @unittest.skipIf(shutil.which("gnuplot"), "gnuplot is installed")
    def test_save_results_without_gnuplot_changes_nothing(self):
        before = snapshot()
        self.expect_error(self.speedup("--save-results"), 1, "needs gnuplot")
        self.assertEqual(snapshot(), before)

    @unittest.skipUnless(os.path.exists(DATA), "Fashion-MNIST is not installed")
    def test_a_quick_trial_leaves_the_committed_results_alone(self):
        before = snapshot()
        r = self.speedup("--batches", "100", "--epochs", "1", "--train-limit", "500", "--devices", "cpu")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nothing written", r.stdout)
        self.assertEqual(snapshot(), before)
        # --out-dir writes the numbers where it is told (plots too when gnuplot is present).
        r = self.speedup("--batches", "100", "--epochs", "1", "--train-limit", "500", "--devices", "cpu",
                         "--out-dir", self.path("sp"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(self.path("sp/speedup.tsv")))
        self.assertEqual(snapshot(), before)
        # The TSV carries the machine and the settings it was measured with, and a replot says them.
        with open(self.path("sp/speedup.tsv")) as f:
            header = [l for l in f if l.startswith("# ")]
        sys.path.insert(0, BENCH)
        import bench_util
        for line in ("# epochs: 1\n", "# train_images: 500\n", "# sizes: 784,30,10\n", "# dtype: f32\n",
                     f"# cpu: {bench_util.cpu_model()}\n", f"# vector: {bench_util.vector_width()}\n"):
            self.assertIn(line, header)
        r = self.speedup("--replot", self.path("sp/speedup.tsv"), "--out-dir", self.path("re"))
        self.assertIn("the first 500 training images, 1 epoch;", r.stdout)

    def replot_labels(self, tsv, *args):
        """What a replot of tsv says its plots show (printed before gnuplot is looked for)."""
        r = self.speedup("--replot", tsv, "--out-dir", self.path("re"), *args)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        if r.returncode == 1:
            self.assertIn("gnuplot not found", r.stderr)
        return r.stdout

    def test_replot_labels_come_from_the_tsv(self):
        tsv = self.write("other.tsv", "# bench/speedup.py: seconds per epoch, per-example vs matrix\n"
                         "# date: 2031-01-02\n# cpu: Test CPU 9000\n# cores: 64\n# vector: AVX2\n# gpu: none\n"
                         "# openblas_core: Haswell\n# load: 0.10\n# sizes: 784,30,10\n# dtype: f64\n"
                         "# epochs: 1\n# train_images: 1000\n"
                         "# device\tm\tper_example_s\tmatrix_s\tspeedup\ncpu\t10\t1.5\t0.5\t3.0\n")
        out = self.replot_labels(tsv)
        self.assertIn("[784,30,10], f64, Fashion-MNIST, the first 1,000 training images, 1 epoch;", out)
        self.assertIn("legend: cpu: Test CPU 9000 × 64 cores, AVX2, OpenBLAS Haswell", out)
        self.assertNotIn("median of", out)
        # Flags may not relabel what the file records.
        self.expect_error(self.speedup("--replot", tsv, "--out-dir", self.path("re"), "--epochs", "5"), 2,
                          "--epochs", "contradicts", "--epochs 1")
        self.expect_error(self.speedup("--replot", tsv, "--out-dir", self.path("re"), "--train-limit", "50000"), 2,
                          "--train-limit", "contradicts")

    def test_replot_of_a_tsv_that_records_nothing_says_so(self):
        tsv = self.write("bare.tsv", "# device\tm\tper_example_s\tmatrix_s\tspeedup\ncpu\t10\t1.234567\t0.5\t2.4\n")
        out = self.replot_labels(tsv)
        self.assertIn("not recorded in bare.tsv", out)
        self.assertIn("legend: cpu: machine not recorded", out)
        self.assertNotIn("median of 5", out)
        self.assertIn("[784,30,10], f64, Fashion-MNIST, the first 2,000 training images, median of 3 epochs",
                      self.replot_labels(tsv, "--sizes", "784,30,10", "--dtype", "f64", "--train-limit", "2000",
                                         "--epochs", "3"))

    def test_replot_of_the_committed_tsv_names_the_results_section_machine(self):
        # bench/speedup.tsv predates the header; its numbers are those of RESULTS.md's section.
        with open(os.path.join(BENCH, "RESULTS.md")) as f:
            section = f.read().split("<!-- speedup:begin -->")[1]
        cpu = section.split(", CPU ", 1)[1].split(" × ", 1)[0]
        out = self.replot_labels(os.path.join(BENCH, "speedup.tsv"))
        self.assertIn("machine from bench/RESULTS.md", out)
        self.assertIn(f"legend: cpu: {cpu} ×", out)


class OtherScripts(ScriptTest):
    def test_every_results_writer_needs_save_results(self):
        for script in ("speedup.py", "gbench_report.py", os.path.join("compare", "compare.py")):
            with self.subTest(script=script):
                r = py(script, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("--save-results", r.stdout)
        # refresh_all.sh is the one place that asks for it, for each of the three.
        text = open(os.path.join(BENCH, "refresh_all.sh")).read()
        for call in ('gbench_report.py" --build "$build" --save-results', 'speedup.py" --save-results',
                     'compare/run.sh" --save-results'):
            self.assertIn(call, text)

    def test_gbench_report_bad_arguments(self):
        self.expect_error(py("gbench_report.py", "--train-json", self.path("none.json")), 2, "--train-json",
                          "is not a file")
        self.expect_error(py("gbench_report.py", "--only", "bogus"), 2, "--only")

    def test_compare_bad_arguments(self):
        self.expect_error(py(os.path.join("compare", "compare.py"), "--only", "numpy,jax"), 2, "jax")
        self.expect_error(py(os.path.join("compare", "compare.py"), "--epochs", "x"), 2, "--epochs")

    def test_sweep_scaling_bad_arguments(self):
        self.expect_error(py("sweep_scaling.py", "--models", "1,x"), 2, "--models", "'1,x'")
        self.expect_error(py("sweep_scaling.py", "--models", "1,2,2"), 2, "--models", "none repeated")
        self.expect_error(py("sweep_scaling.py", "--epochs", "0"), 2, "--epochs", "at least 1")
        self.expect_error(py("sweep_scaling.py", "--cli", self.path("nope")), 2, "--cli", "not an executable")
        # A sweep the CLI refuses: its one line, not a traceback (before any data is read).
        self.expect_error(py("sweep_scaling.py", "--cli", CLI, "--sizes", "784,x,10", "--models", "1", "--repeats", "1"),
                          1, "failed (exit 2)", "--sizes")

    def test_python_module_bad_arguments(self):
        script = os.path.join("compare", "python_module.py")
        self.expect_error(py(script, "--epochs", "1"), 2, "--epochs")
        self.expect_error(py(script, "--chapter", "2"), 2, "--chapter")
        self.expect_error(py(script, "--cli", self.path("no-cli")), 2, "no batchprop executable")
        self.expect_error(py(script, "--out", os.path.join(self.path("missing"), "figures.json")), 2, "--out",
                          "no such directory")


if __name__ == "__main__":
    unittest.main(verbosity=2)
