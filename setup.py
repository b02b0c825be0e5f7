"""Builds batchprop's Python extension (batchprop._core) with CMake for `pip install .`; the
package's metadata is in pyproject.toml. pybind11's "cmake_example" pattern: a build_ext that
configures this repository with the module on and the tests, benchmarks and install rules off,
builds the module's target alone and copies it where setuptools packs the extension.

CMAKE_ARGS (space-separated) adds CMake options, e.g. CMAKE_ARGS="-DBATCHPROP_CUDA=OFF" for a
CPU-only module where nvcc is installed; CMAKE_BUILD_PARALLEL_LEVEL sets the build jobs (default:
the CPUs). Everything is built under build-python/ (ignored by git): CMake's build tree,
setuptools' folders and the .egg-info; a second `pip install .` rebuilds incrementally.
"""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "build-python")


def version():
    """The project's version, from CMakeLists.txt's project() (the one _core.__version__ reports)."""
    with open(os.path.join(HERE, "CMakeLists.txt")) as f:
        m = re.search(r"project\(batchprop\s+VERSION\s+([0-9.]+)", f.read())
    if not m:
        sys.exit("setup.py: no 'project(batchprop VERSION x.y.z' in CMakeLists.txt")
    return m.group(1)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        if shutil.which("cmake") is None:
            raise RuntimeError("batchprop needs CMake >= 3.24 to build its extension (Debian: apt-get install cmake)")
        cmake_build = os.path.join(os.path.abspath(self.build_temp), "cmake")
        config = "Debug" if self.debug else "Release"
        args = [f"-DCMAKE_BUILD_TYPE={config}",
                f"-DPython3_EXECUTABLE={sys.executable}",  # the interpreter pip runs: a venv's
                "-DBATCHPROP_PYTHON=ON", "-DBATCHPROP_TESTS=OFF", "-DBATCHPROP_BENCH=OFF", "-DBATCHPROP_INSTALL=OFF"]
        args += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(self.parallel or os.cpu_count() or 1)
        subprocess.run(["cmake", "-S", HERE, "-B", cmake_build, *args], check=True)
        subprocess.run(["cmake", "--build", cmake_build, "--target", "batchprop_python", "-j", jobs], check=True)
        built = glob.glob(os.path.join(cmake_build, "python", "batchprop", "_core*.so"))
        if len(built) != 1:
            raise RuntimeError(f"expected one batchprop/_core*.so in {cmake_build}/python, found {built}")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


os.makedirs(BUILD, exist_ok=True)
setup(
    version=version(),
    ext_modules=[CMakeExtension("batchprop._core")],
    cmdclass={"build_ext": CMakeBuild},
    # setuptools' own build folders (and the .egg-info) under build-python/ too.
    options={"build": {"build_base": BUILD}, "egg_info": {"egg_base": BUILD}},
    zip_safe=False,
)
