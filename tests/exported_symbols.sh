#!/usr/bin/env bash
# Checks the dynamic symbol table of a shared libbatchprop: everything it defines must be in
# namespace batchprop (the public API of include/batchprop/, marked BATCHPROP_API) or be a
# C++ standard library template instantiation, as any C++ library exports; no backend class,
# BLAS glue, file helper, fmt or nlohmann_json code. Usage: exported_symbols.sh libbatchprop.so
set -euo pipefail
lib=$1
command -v nm >/dev/null && command -v c++filt >/dev/null || { echo "nm or c++filt not found: skipped"; exit 77; }
mangled=$(nm -D --defined-only "$lib" | awk '{print $3}')
fail=0
# By namespace, on the mangled names: _Z, then an optional special-name prefix (TV vtable,
# TI typeinfo, TS its name, GV guard), then the nested-name's first component.
other=$(grep -v -E '^_Z(T[VIST]|GV)?Z?N?K?(9batchprop|St|S[absiod]|NSt|9__gnu_cxx|N9__gnu_cxx)' <<<"$mangled" |
        grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$other" ]; then
  echo "exported outside namespaces batchprop and std:"
  c++filt <<<"$other" | head -20
  fail=1
fi
# Internals by name, wherever they appear (e.g. as a template argument of a std:: function).
# fmt and nlohmann_json code is caught above, by its namespace; a public function may still
# take a nlohmann::json parameter (model_io.hpp).
for bad in CpuBackend CudaBackend blas_core cpu_subnormals subnormal write_file_atomically check_output_path \
           query_gpus make_cuda_backend cublas small_gemm libdeflate \
           MpiCommunicator NcclCommunicator NcclApi SingleProcess MPI_ ompi_ nccl[A-Z]; do
  if grep -q -E -- "$bad" <<<"$mangled"; then
    echo "exported but internal ($bad):"
    grep -E -- "$bad" <<<"$mangled" | c++filt | head -5
    fail=1
  fi
done
# And the API is there.
demangled=$(c++filt <<<"$mangled")
for want in 'batchprop::load_model(' 'batchprop::Session::train(' 'batchprop::Trainer<float>::run(' 'batchprop::load_idx(' \
            'batchprop::Session::set_communicator(' 'batchprop::make_mpi_communicator(' 'batchprop::batch_slice('; do
  grep -qF -- "$want" <<<"$demangled" || { echo "missing from the exports: $want"; fail=1; }
done
if [ "$fail" = 0 ]; then
  echo "ok: $(grep -c 9batchprop <<<"$mangled") symbols of namespace batchprop exported, no internals"
fi
exit "$fail"
