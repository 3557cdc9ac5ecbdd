# Checks libattnrt.so needs only the C/C++ runtime and exports only attn_*.
# (No libcuda, LLVM, MLIR or torch: it must load on any machine.)
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
        attn_get_pack_info)
  if(NOT api IN_LIST exported)
    message(FATAL_ERROR "${LIBRARY} does not export ${api}")
  endif()
endforeach()
