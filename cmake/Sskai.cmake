# Helpers shared by every module's CMakeLists.txt.

# sskai_add_module(NAME SOURCES a.cc b.cc DEPS x y)
#   A static library sskai_<NAME>; include root is src/ so code includes "module/module.h".
function(sskai_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(sskai_${name} STATIC ${ARG_SOURCES})
  target_include_directories(sskai_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(sskai_${name} PUBLIC ${ARG_DEPS})
  target_compile_options(sskai_${name} PRIVATE ${SSKAI_WARNINGS})
endfunction()

# sskai_add_test(NAME SOURCES a_test.cc DEPS x y [LABELS l])
#   A GoogleTest binary registered with ctest (tests discovered when ctest runs).
function(sskai_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  # Discovery runs the test binary at ctest time; on a loaded 2-core CI machine a binary that
  # loads libtorch can need more than CMake's default 5 s, and a discovery timeout fails the run.
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 120
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}"
      ENVIRONMENT "SSKAI_BINARY=$<TARGET_FILE:sskai>")
endfunction()
