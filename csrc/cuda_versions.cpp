// The CUDA runtime and cuDNN versions of the libtorch thaw runs on, for provenance.
//
// tch offers only whether CUDA and cuDNN are available; libtorch's CUDA hooks (registered when
// libtorch_cuda is loaded) know the versions. Without a usable CUDA device the hooks say no CUDA.
#include <ATen/detail/CUDAHooksInterface.h>

extern "C" {

// The CUDA runtime version libtorch was built with (e.g. 12080 for 12.8), or -1 without CUDA.
long thaw_cuda_runtime_version() {
  try {
    const auto& hooks = at::detail::getCUDAHooks();
    return hooks.hasCUDA() ? hooks.versionCUDART() : -1;
  } catch (...) {
    return -1;
  }
}

// The version of the cuDNN library loaded (e.g. 90800 for 9.8.0), or -1 without CUDA or cuDNN.
long thaw_cudnn_version() {
  try {
    const auto& hooks = at::detail::getCUDAHooks();
    return hooks.hasCUDA() ? hooks.versionRuntimeCuDNN() : -1;
  } catch (...) {
    return -1;
  }
}

}  // extern "C"
