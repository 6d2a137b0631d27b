# The Python module (python/l5sim/, docs/PYTHON.md): the compiled part `_l5sim` (pybind11 from
# Debian's pybind11-dev, for the python3 on PATH, the one the tests use) and the package's
# Python files, together under build/python/l5sim, importable with PYTHONPATH=build/python.
# Optional: without pybind11 or Python's headers everything else builds as before.
option(L5SIM_PYTHON_MODULE "Build the Python module when pybind11 is found" ON)
set(L5SIM_HAVE_PYTHON OFF)
if(L5SIM_PYTHON_MODULE)
  find_program(L5SIM_PYTHON_EXE python3)
  if(L5SIM_PYTHON_EXE)
    set(Python_EXECUTABLE ${L5SIM_PYTHON_EXE})
    set(PYBIND11_FINDPYTHON ON)
    find_package(Python COMPONENTS Interpreter Development.Module QUIET)
    if(Python_FOUND)
      find_package(pybind11 CONFIG QUIET)
    endif()
  endif()
  if(pybind11_FOUND)
    set(L5SIM_HAVE_PYTHON ON)
    message(STATUS "l5sim: pybind11 ${pybind11_VERSION} for ${Python_EXECUTABLE}: the Python module builds")
  else()
    message(STATUS "l5sim: no pybind11 or no Python headers for python3: no Python module")
  endif()
endif()

if(L5SIM_HAVE_PYTHON)
  # The libraries go into a shared module: position-independent code.
  set_target_properties(l5sim_core PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(TARGET l5sim_cuda)
    set_target_properties(l5sim_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()
  set(L5SIM_PY_DIR ${CMAKE_BINARY_DIR}/python/l5sim)
  pybind11_add_module(_l5sim NO_EXTRAS host/python/module.cpp)
  target_include_directories(_l5sim PRIVATE ${CMAKE_SOURCE_DIR}/host)
  target_link_libraries(_l5sim PRIVATE l5sim_core)
  set_target_properties(_l5sim PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${L5SIM_PY_DIR})
  # The package's Python files (and type stubs) next to it, copied at every build.
  file(GLOB L5SIM_PY_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/l5sim/*.py
       ${CMAKE_SOURCE_DIR}/python/l5sim/*.pyi ${CMAKE_SOURCE_DIR}/python/l5sim/py.typed)
  set(L5SIM_PY_COPIES)
  foreach(f ${L5SIM_PY_FILES})
    get_filename_component(name ${f} NAME)
    add_custom_command(OUTPUT ${L5SIM_PY_DIR}/${name}
      COMMAND ${CMAKE_COMMAND} -E copy_if_different ${f} ${L5SIM_PY_DIR}/${name}
      DEPENDS ${f} COMMENT "python/l5sim/${name}")
    list(APPEND L5SIM_PY_COPIES ${L5SIM_PY_DIR}/${name})
  endforeach()
  add_custom_target(l5sim_python_files ALL DEPENDS ${L5SIM_PY_COPIES})
  add_dependencies(_l5sim l5sim_python_files)
endif()
