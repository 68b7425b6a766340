#include "chat/jinja/callable.h"

#include "chat/jinja/error.h"

namespace salut::jinja {

std::vector<Value> bind_args(const char* function, const Args& args, std::initializer_list<Param> params) {
  std::vector<Value> bound(params.size());
  std::vector<bool> filled(params.size(), false);
  if (args.positional.size() > params.size())
    fail(std::string(function) + "() takes at most " + std::to_string(params.size()) + " argument(s) (" +
         std::to_string(args.positional.size()) + " given)");
  for (size_t i = 0; i < args.positional.size(); ++i) {
    bound[i] = args.positional[i];
    filled[i] = true;
  }
  for (const auto& [name, value] : args.keyword) {
    size_t i = 0;
    for (const Param& p : params) {
      if (name == p.name) break;
      ++i;
    }
    if (i == params.size()) fail(std::string(function) + "() got an unexpected keyword argument '" + name + "'");
    if (filled[i]) fail(std::string(function) + "() got multiple values for argument '" + name + "'");
    bound[i] = value;
    filled[i] = true;
  }
  size_t i = 0;
  for (const Param& p : params) {
    if (!filled[i]) {
      if (!p.default_value) fail(std::string(function) + "() missing required argument: '" + p.name + "'");
      bound[i] = *p.default_value;
    }
    ++i;
  }
  return bound;
}

}  // namespace salut::jinja
