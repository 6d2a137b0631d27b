# Run at every build (not only at configure): writes build_info.hpp with the current git hash,
# touching it only when it changes, so the provenance in every output names the real commit.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE L5SIM_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT L5SIM_GIT_HASH)
  set(L5SIM_GIT_HASH "unknown")
elseif(dirty)
  set(L5SIM_GIT_HASH "${L5SIM_GIT_HASH}-modified")
endif()
configure_file(${SRC}/cmake/build_info.hpp.in ${DST} @ONLY)
