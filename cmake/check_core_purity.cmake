# Fails when the pure core (scheduler/, topology/) includes an adapter header (STYLE.md "Shape").
# Run as: cmake -DSOURCE_DIR=<repo> -P check_core_purity.cmake
file(GLOB_RECURSE core_files "${SOURCE_DIR}/scheduler/*.h" "${SOURCE_DIR}/scheduler/*.cc"
     "${SOURCE_DIR}/topology/*.h" "${SOURCE_DIR}/topology/*.cc")
set(bad "")
foreach(f IN LISTS core_files)
  file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](httplib|nlohmann|simdjson|prometheus|spdlog|yaml-cpp|api/|config/|thread|mutex|chrono|fstream|iostream|random)")
  if(lines)
    list(APPEND bad "${f}: ${lines}")
  endif()
endforeach()
if(bad)
  string(REPLACE ";" "\n" bad "${bad}")
  message(FATAL_ERROR "The core must stay pure (no I/O, clocks, threads, adapters):\n${bad}")
endif()
message(STATUS "core purity: ok (${SOURCE_DIR})")
