/// @file
/// BATCHPROP_API marks what libbatchprop exports: the public API declared in these headers.
/// The library is compiled with hidden visibility (-fvisibility=hidden), so a shared
/// libbatchprop.so exports what is marked and nothing else (no backend internals, no BLAS
/// glue, no JSON parser instantiations). For a static library the mark changes nothing.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define BATCHPROP_API __attribute__((visibility("default")))
#else
#define BATCHPROP_API
#endif
