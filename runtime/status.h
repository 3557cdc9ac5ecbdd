// Status, the runtime's error type, and the C API's thread-local last error.
#ifndef ATTN_RUNTIME_STATUS_H
#define ATTN_RUNTIME_STATUS_H

#include "runtime/attn.h"

#include <string>
#include <utility>

// Marks the definitions of the C API: the library is built with hidden
// visibility and only these symbols are exported (see attnrt.map).
#define ATTN_EXPORT extern "C" __attribute__((visibility("default")))

namespace attn {

class Status {
public:
  Status() = default;
  Status(attn_status code, std::string message)
      : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == ATTN_SUCCESS; }
  attn_status code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  attn_status code_ = ATTN_SUCCESS;
  std::string message_;
};

// A failed Status with a printf-formatted message.
Status makeStatus(attn_status code, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

// `status` with "<context>: " put before its message; ok stays ok.
Status withContext(const Status &status, const std::string &context);

// Ends a C API call: on failure records "<api>: <message>" as this thread's
// last error. The message of an earlier failure stays until the next failure.
attn_status finishCall(const char *api, const Status &status);

} // namespace attn

#define ATTN_RETURN_IF_ERROR(expr)                                             \
  do {                                                                         \
    ::attn::Status attnStatus_ = (expr);                                       \
    if (!attnStatus_.ok())                                                     \
      return attnStatus_;                                                      \
  } while (false)

#endif // ATTN_RUNTIME_STATUS_H
