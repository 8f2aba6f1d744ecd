// Mixed precision for thaw: libtorch's autocast for one device type, in bf16.
//
// tch exposes only CUDA autocast with its default dtype (fp16); thaw trains in bf16, and on the
// CPU too (for tests, and for CPUs with bf16 units), so it sets the device type and dtype itself.
// Autocast state is thread-local, like libtorch's.
#include <ATen/autocast_mode.h>

extern "C" {

// Turns bf16 autocast on for the CUDA (`cuda` = 1) or CPU device type. Returns whether it was
// on before (pass it to thaw_autocast_exit), or -1 on an error.
int thaw_autocast_enter(int cuda) {
  try {
    const auto device = cuda ? at::kCUDA : at::kCPU;
    const bool was = at::autocast::is_autocast_enabled(device);
    at::autocast::set_autocast_dtype(device, at::kBFloat16);
    at::autocast::set_autocast_enabled(device, true);
    at::autocast::increment_nesting();
    return was ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

// Restores the state before the matching thaw_autocast_enter; the outermost exit drops the
// cache of weights cast to bf16.
void thaw_autocast_exit(int cuda, int was) {
  const auto device = cuda ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(device, was == 1);
  if (at::autocast::decrement_nesting() == 0) {
    at::autocast::clear_cache();
  }
}

}
