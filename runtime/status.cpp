// Status formatting, the thread-local last-error message and the version query.
#include "runtime/status.h"

#include <cstdarg>
#include <cstdio>

namespace attn {

namespace {
// Per thread, so that concurrent callers each read the message of their own
// failed call.
thread_local std::string lastError;
} // namespace

Status makeStatus(attn_status code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  va_list argsCopy;
  va_copy(argsCopy, args);
  int length = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string message(length > 0 ? static_cast<size_t>(length) : 0, '\0');
  if (length > 0)
    std::vsnprintf(message.data(), message.size() + 1, format, argsCopy);
  va_end(argsCopy);
  return Status(code, std::move(message));
}

Status withContext(const Status &status, const std::string &context) {
  if (status.ok())
    return status;
  return Status(status.code(), context + ": " + status.message());
}

attn_status finishCall(const char *api, const Status &status) {
  if (!status.ok())
    lastError = withContext(status, api).message();
  return status.code();
}

} // namespace attn

ATTN_EXPORT int attn_api_version(void) { return ATTN_API_VERSION; }

ATTN_EXPORT const char *attn_last_error(void) {
  return attn::lastError.c_str();
}
