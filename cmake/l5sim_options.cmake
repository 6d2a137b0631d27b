# Compiler flags shared by every target. -ffp-contract=off is part of the determinism contract
# (DESIGN.md section 2): no fused multiply-add unless written as fma().
add_library(l5sim_flags INTERFACE)
target_compile_options(l5sim_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -ffp-contract=off -fno-fast-math>
  $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false -Xcompiler=-ffp-contract=off>)
if(L5SIM_SANITIZE)
  target_compile_options(l5sim_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer>)
  target_link_options(l5sim_flags INTERFACE -fsanitize=address,undefined)
endif()
if(L5SIM_FUZZ)
  # Every library the fuzz target links is instrumented (coverage for libFuzzer, ASan, UBSan).
  target_compile_options(l5sim_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer>)
  target_link_options(l5sim_flags INTERFACE -fsanitize=address,undefined)
endif()
find_program(L5SIM_CCACHE ccache)
if(L5SIM_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${L5SIM_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${L5SIM_CCACHE})
endif()
