#pragma once
// The names a template can use without defining them: filters (`x|trim`), tests (`x is defined`)
// and globals (range, namespace, dict, raise_exception, strftime_now), as transformers sets them up.

#include <string_view>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace salut::jinja {

FilterFn find_filter(std::string_view name);  // nullptr when unknown
TestFn find_test(std::string_view name);      // nullptr when unknown
const Value* find_global(std::string_view name);

}  // namespace salut::jinja
