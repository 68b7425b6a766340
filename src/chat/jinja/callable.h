#pragma once
// Things a template can call: macros, builtin globals (range, namespace, ...) and bound methods
// ("abc".upper). Arguments arrive Python-style, positional then keyword.

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace salut::jinja {

struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

class Callable {
 public:
  virtual ~Callable() = default;
  virtual Value call(Renderer& renderer, const Args& args) const = 0;
  virtual std::string repr() const = 0;
};

// One parameter of a builtin: a name and, when optional, its default.
struct Param {
  const char* name;
  std::optional<Value> default_value = std::nullopt;
};

// Binds args to params like a Python function call; throws TypeError-style errors naming `function`.
std::vector<Value> bind_args(const char* function, const Args& args, std::initializer_list<Param> params);

}  // namespace salut::jinja
