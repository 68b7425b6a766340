#pragma once
// Unknown filters and tests, found after parsing with jinja2's rules for when they are an error.

#include "chat/jinja/ast.h"

namespace salut::jinja {

// Throws TemplateError for an unknown filter or test that jinja2 would refuse at compile time.
void check_names(const Body& body);

}  // namespace salut::jinja
