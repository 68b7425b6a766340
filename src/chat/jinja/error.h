#pragma once
// Template failures. Everything thrown out of the jinja module is a salut::Error with
// Errc::invalid_argument, so callers need no jinja-specific handling.

#include <string>

#include "core/error.h"

namespace salut::jinja {

// Bad syntax, or a runtime error jinja2 would raise (TypeError, UndefinedError, ...).
class TemplateError : public Error {
 public:
  explicit TemplateError(const std::string& message) : Error(Errc::invalid_argument, message) {}
};

// raise_exception(message) called by the template itself: the message is shown exactly as given.
class RaisedError : public TemplateError {
 public:
  explicit RaisedError(const std::string& message) : TemplateError(message) {}
};

[[noreturn]] inline void fail(const std::string& message) { throw TemplateError(message); }

}  // namespace salut::jinja
