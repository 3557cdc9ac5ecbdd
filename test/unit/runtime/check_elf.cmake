# Checks libattnrt.so needs only the C/C++ runtime, of versions that Ubuntu 20.04
# has (glibc 2.31, GCC 10's libstdc++: what the wheel promises), and exports only
# attn_*. (No libcuda, LLVM, MLIR or torch: it must load on any machine.)
#   cmake -DLIBRARY=<libattnrt.so> -DREADELF=<readelf> -DNM=<nm> -P check_elf.cmake
cmake_minimum_required(VERSION 3.20)
execute_process(COMMAND ${READELF} --dynamic ${LIBRARY}
  OUTPUT_VARIABLE dynamic RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${READELF} --dynamic ${LIBRARY} failed")
endif()
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]+\\]" needed "${dynamic}")
# ld-linux is the dynamic loader itself; thread_local storage refers to it.
set(allowed "^(libc|libstdc\\+\\+|libm|libdl|libgcc_s|libpthread)\\.so\\.[0-9]+$|^ld-linux[-a-z0-9_]*\\.so\\.[0-9]+$")
foreach(entry IN LISTS needed)
  string(REGEX REPLACE ".*\\[([^]]+)\\]" "\\1" name "${entry}")
  if(NOT name MATCHES "${allowed}")
    message(FATAL_ERROR "${LIBRARY} needs ${name}; only the C and C++ runtime libraries are allowed")
  endif()
endforeach()

# The newest symbol version of each library that Ubuntu 20.04 provides.
set(oldest_GLIBC 2.31)
set(oldest_GLIBCXX 3.4.28)
set(oldest_CXXABI 1.3.12)
execute_process(COMMAND ${READELF} --version-info ${LIBRARY}
  OUTPUT_VARIABLE versions RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${READELF} --version-info ${LIBRARY} failed")
endif()
string(REGEX MATCHALL "Name: (GLIBC|GLIBCXX|CXXABI)_[0-9.]+" needs "${versions}")
foreach(need IN LISTS needs)
  string(REGEX REPLACE "Name: ([A-Z]+)_([0-9.]+)" "\\1;\\2" need "${need}")
  list(GET need 0 name)
  list(GET need 1 version)
  if(version VERSION_GREATER oldest_${name})
    message(FATAL_ERROR "${LIBRARY} needs ${name}_${version}; Ubuntu 20.04, "
      "the oldest system the wheel is for, has ${name} up to "
      "${oldest_${name}} (runtime/glibc_compat.h pins glibc symbols to old "
      "versions)")
  endif()
endforeach()

execute_process(COMMAND ${NM} --dynamic --defined-only ${LIBRARY}
  OUTPUT_VARIABLE symbols RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${NM} --dynamic --defined-only ${LIBRARY} failed")
endif()
string(REGEX MATCHALL "[^\n]+" lines "${symbols}")
set(exported "")
foreach(line IN LISTS lines)
  string(REGEX REPLACE ".* " "" symbol "${line}")
  if(NOT symbol MATCHES "^attn_")
    message(FATAL_ERROR "${LIBRARY} exports ${symbol}; only attn_* may be exported")
  endif()
  list(APPEND exported ${symbol})
endforeach()
foreach(api attn_api_version attn_last_error attn_paged_decode
        attn_paged_decode_workspace_size attn_varlen_prefill
        attn_varlen_prefill_workspace_size attn_query_support attn_version
        attn_get_pack_info attn_get_limits attn_paged_decode_check_indices
        attn_varlen_prefill_check_indices)
  if(NOT api IN_LIST exported)
    message(FATAL_ERROR "${LIBRARY} does not export ${api}")
  endif()
endforeach()
