#pragma once
// Python methods templates call on values: str (startswith, split, strip, format, ...),
// dict (get, items, keys, values), list (count, index) and the loop object (cycle).
// Methods that would mutate a list or dict are refused, as in jinja2's ImmutableSandboxedEnvironment.

#include <string_view>

#include "chat/jinja/callable.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/value.h"

namespace salut::jinja {

enum class MethodKind { none, safe, unsafe };

MethodKind method_kind(const Value& receiver, std::string_view name);
// A callable value for receiver.name (what `x.upper` evaluates to without a call).
Value bound_method(const Value& receiver, std::string_view name);
Value call_method(const Value& receiver, std::string_view name, const Args& args);

}  // namespace salut::jinja
